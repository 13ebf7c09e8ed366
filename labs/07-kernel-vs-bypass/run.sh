#!/usr/bin/env bash
# Lab 07: one set of datagrams through the kernel's receive path and through the lab's bypass path,
# stage by stage, in one table, one Perfetto file and one diagram. Root (namespaces, tracefs).
#   labs/07-kernel-vs-bypass/run.sh [--out DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
out_dir lab07 "$@"
require netns tracefs
# Times are real clocks (they move run to run): the checked output keeps the names, counts and verdicts,
# and writes every time as T.
times() { sed -E -e 's/[0-9]+(\.[0-9]+)? (ns|us|ms|s)\b/T/g' -e 's/ +/ /g' -e 's/ +$//'; }
paths() {   # the two summary lines, up to their packet and drop counts
  grep -E '^(lab|kernel) path: [0-9]+ packets' | sed -E 's/^((lab|kernel) path: [0-9]+ packets, [0-9]+ dropped).*/\1/' | sort
}

step "ringlab trace compare traces/flows.pcap --filter 'udp dst port 5001' --packets 20 --quiet --json DIR/both.json --svg DIR/both.svg"
"$ringlab" trace compare traces/flows.pcap --filter 'udp dst port 5001' --packets 20 --quiet \
  --json "$out/both.json" --svg "$out/both.svg" > "$out/compare.txt"
paths < "$out/compare.txt"
sed -n '/^the same work on both paths/,$p' "$out/compare.txt" | grep -v ' clock: ' | times

step 'DIR/both.json: one Perfetto file, one process per path, one track per hop'
/usr/bin/python3 - "$out/both.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in ev if e.get("name") == "process_name"}
for pid, name in sorted(procs.items()):
    tracks = [e["args"]["name"] for e in ev if e.get("name") == "thread_name" and e["pid"] == pid]
    pkts = {e["args"]["packet"] for e in ev if e.get("ph") == "X" and e["pid"] == pid}
    print(f"{name}: {len(pkts)} packets; tracks: {', '.join(tracks)}")
PY
grep -q '<svg' "$out/both.svg" && echo "DIR/both.svg: written (open it in a browser)"

step "ringlab trace compare traces/flows.pcap --filter 'udp dst port 5002' --packets 5 --listen 5001 --quiet   (nobody listens on 5002)"
"$ringlab" trace compare traces/flows.pcap --filter 'udp dst port 5002' --packets 5 --listen 5001 --quiet > "$out/drops.txt"
paths < "$out/drops.txt"
grep -E '^  (lab|kernel) drops at ' "$out/drops.txt"
