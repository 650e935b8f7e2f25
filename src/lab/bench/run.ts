export async function runBenchCommand(_o: {
  repoRoot: string;
  engine: string;
  out?: string;
  log: (m: string) => void;
}) {
  return 1;
}
