#!/usr/bin/env bash
# Lab 10: the kernel's receive path, function by function, inside a QEMU guest.
#   labs/10-kernel-route-in-vm/run.sh [--nic virtio|e1000] [--offline] [--out DIR]
# Prints the route (function and source file, one per line, in call order) of one datagram from the
# NIC driver's NAPI poll to udp_recvmsg, and writes DIR/route.json (Perfetto) and DIR/route.dot.
# --offline: from the trace recorded with the same command (tests/vm/data), no guest; anyone can run it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
ringlab="${RINGLAB:-$src/build/default/tools/ringlab}"
nic=virtio offline=0 out="${TMPDIR:-/tmp}/ringlab-lab10"
while [ $# -gt 0 ]; do
  case "$1" in
    --nic) nic="$2"; shift 2 ;;
    --offline) offline=1; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "run.sh: unknown option '$1' (--nic virtio|e1000, --offline, --out DIR)" >&2; exit 2 ;;
  esac
done
case "$nic" in virtio|e1000) ;; *) echo "run.sh: --nic: '$nic' is not virtio or e1000" >&2; exit 2 ;; esac
[ -x "$ringlab" ] || { echo "run.sh: $ringlab is not built (./lab build)" >&2; exit 1; }
mkdir -p "$out"
if [ "$offline" = 1 ]; then
  args=(--from "$src/tests/vm/data/$nic-mcast.ftrace.txt")
else
  args=(--nic "$nic" --raw "$out/trace.txt")   # boots the guest: root, QEMU (ringlab vm probe)
fi
"$ringlab" vm trace "${args[@]}" --json "$out/route.json" --dot "$out/route.dot" > "$out/timeline.txt"
# The lab's output: the route's function and file columns of the timeline.
awk '/^ +[0-9]+  [A-Za-z_]/ {print $2, $7}' "$out/timeline.txt"
echo "full timeline: $out/timeline.txt; Perfetto: $out/route.json; Graphviz: $out/route.dot" >&2
