#!/usr/bin/env bash
# bsr demo (npm run demo): a two-node lab replicates r0 from conf-examples/r0.res:
# create-md and up on both nodes, alpha forced Primary, the initial sync, data written on alpha
# and checked on bravo, a switchover to bravo and the check again, then everything shut down.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
start=$(date +%s)
say() { printf '\n\033[1m== %s (%ss)\033[0m\n' "$*" "$(( $(date +%s) - start ))"; }
lab() { node scripts/lab.mjs "$@"; }
on() { local n=$1; shift; lab exec "$n" -- sh -ec "cd $ROOT; $*"; }
ADM="bin/bsradm -c conf-examples/r0.res"

say "installing and building what the demo needs"
bash scripts/install-deps.sh
npm run -s build >/dev/null
npm run -s build:kmod >/dev/null
[ -f native/addon/build/Release/bsr_netlink.node ] || npm run -s build:addon >/dev/null
lab setup >/dev/null

cleanup() { lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "booting the two-node lab (alpha 10.99.1.1, bravo 10.99.1.2; 96 MiB disks)"
lab up --disk-size 96M

say "create-md and up on both nodes"
for n in alpha bravo; do
  on $n "$ADM create-md r0 </dev/null >/dev/null && $ADM up r0" &
done
wait
on alpha "for i in \$(seq 60); do bin/bsrsetup status r0 -v | grep -q connection:Connected && exit 0; sleep 1; done; exit 1"
on alpha "$ADM status r0"

say "alpha becomes Primary with --force: the initial sync to bravo starts"
on alpha "$ADM primary --force r0"
for i in $(seq 120); do
  out=$(on bravo "bin/bsrsetup status r0")
  echo "$out" | grep -E 'replication|done:' | sed 's/^ */  bravo: /' || true
  echo "$out" | grep -q 'peer-disk:UpToDate' && echo "$out" | grep -q ' disk:UpToDate' && break
  sleep 3
done

say "writing 16 MiB on alpha"
on alpha "head -c 16777216 /dev/urandom > /tmp/demo && dd if=/tmp/demo of=/dev/bsr0 bs=1M seek=4 oflag=direct status=none && sha256sum /tmp/demo | tee /tmp/demo.sum"
for n in alpha bravo; do say "bsradm status on $n"; on $n "$ADM status r0"; done

say "checking the data on bravo's backing disk"
a=$(on alpha "cut -d' ' -f1 /tmp/demo.sum")
b=$(on bravo "dd if=/dev/vdb bs=1M skip=4 count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1")
echo "alpha wrote $a"; echo "bravo has  $b"; [ "$a" = "$b" ] && echo "MATCH" || { echo "MISMATCH"; exit 1; }

say "switchover: alpha demotes, bravo promotes and reads the data through /dev/bsr0"
on alpha "$ADM secondary r0"
on bravo "$ADM primary r0"
c=$(on bravo "dd if=/dev/bsr0 bs=1M skip=4 count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1")
echo "bravo reads $c"; [ "$a" = "$c" ] && echo "MATCH" || { echo "MISMATCH"; exit 1; }
on bravo "head -c 8388608 /dev/urandom > /tmp/demo2 && dd if=/tmp/demo2 of=/dev/bsr0 bs=1M seek=32 oflag=direct status=none"
d=$(on bravo "sha256sum < /tmp/demo2 | cut -d' ' -f1")
e=$(on alpha "dd if=/dev/vdb bs=1M skip=32 count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1")
echo "bravo wrote $d"; echo "alpha has   $e"; [ "$d" = "$e" ] && echo "MATCH" || { echo "MISMATCH"; exit 1; }
for n in alpha bravo; do say "bsradm status on $n"; on $n "$ADM status r0"; done

say "shutting down"
on bravo "$ADM secondary r0"
for n in alpha bravo; do on $n "$ADM down r0 && rmmod bsr"; done
lab down >/dev/null
trap - EXIT
say "demo done"
