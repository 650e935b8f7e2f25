// Shared steps of the engine part 1 scenarios: resource r0 (minor 1, volume 0) on /dev/vda of
// one node (node-id 0) with bravo (node-id 1) configured as its peer, driven by bsrsetup/bsrmeta.
import { guestCli } from '../../src/lab/paths.js';
import type { Lab, NodeName } from '../../src/lab/scenario.js';

export interface UpOptions {
  /** also configure the path to bravo (port 7789), which an unconnected peer does not need */
  path?: boolean;
}

export function engine1Tools(lab: Lab, n: NodeName) {
  const repo = lab.repoRoot;
  const S = guestCli(repo, 'bsrsetup');
  const M = guestCli(repo, 'bsrmeta');
  const sh = (script: string) => lab.sh(n, `cd ${repo}\n${script}`);
  /** create-md for r0's minor 1 on /dev/vda; the caller adds any redirection of its output */
  const createMd = `${M} --force 1 v09 /dev/vda internal create-md --max-peers=2 </dev/null`;

  /** The bsrsetup lines that bring r0 up (no connect): a script, so callers can append to it. */
  function upScript(o: UpOptions = {}): string {
    const lines = [`${S} new-resource r0 0`, `${S} new-minor r0 1 0`, `${S} new-peer r0 1 --_name=bravo`];
    if (o.path)
      lines.push(`${S} new-path r0 1 ipv4:${lab.address(n, 'bravo')}:7789 ipv4:${lab.address('bravo', n)}:7789`);
    lines.push(`${S} attach 1 /dev/vda /dev/vda internal`);
    return lines.join('\n');
  }

  /** The first object of `kind` in `events2 --now --statistics --json res`, or undefined. */
  async function statsObject(res: string, kind: string) {
    const ev = await sh(`${S} events2 --now --statistics --json ${res}`);
    const o = ev
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, string | number>)
      .find((x) => x.object === kind);
    return { ev, o };
  }

  return { repo, S, M, sh, createMd, upScript, statsObject };
}
