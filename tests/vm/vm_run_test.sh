#!/usr/bin/env bash
# `ringlab vm run -- CMD` returns the guest command's standard output, standard error and exit status
# exactly, and reports the boot time; bad input is refused with a clear error before anything boots.
#   vm_run_test.sh RINGLAB_BINARY SOURCE_DIR [--cli-only]
set -uo pipefail
ringlab="$1" src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; for f in "$out"/*; do echo "--- $f"; cat "$f"; done; exit 1; }
expect_usage() {   # expect_usage EXIT MESSAGE ARGS...
  local want="$1" msg="$2"; shift 2
  "$ringlab" vm "$@" > "$out/o" 2> "$out/e"; local rc=$?
  [ $rc -eq "$want" ] || fail "ringlab vm $*: exit $rc, want $want"
  grep -qF -- "$msg" "$out/e" || fail "ringlab vm $*: stderr lacks '$msg'"
}
expect_usage 2 "unknown subcommand 'boot'" boot
expect_usage 2 "--nic: 'tulip' is not virtio or e1000" trace --nic tulip
expect_usage 2 "--port: '70000'" trace --port 70000
expect_usage 2 "--group: '239.1.1.1;id' is not an IPv4 multicast address (224.0.0.0/4)" trace --group '239.1.1.1;id'
expect_usage 2 "--group: '10.0.0.1' is not an IPv4 multicast address" afxdp --group 10.0.0.1
expect_usage 2 "--from: cannot read '/nonexistent/x'" trace --from /nonexistent/x
expect_usage 2 "which one: probe, image, run, shell, trace or afxdp" ""
expect_usage 2 "run: no command" run
expect_usage 2 "--nic: 'tulip' is not virtio, e1000 or none" run --nic tulip -- true
expect_usage 2 "--timeout: 'soon' is not a number of seconds" run --timeout soon -- true
expect_usage 2 "--file /nonexistent/x: no such file" run --file /nonexistent/x -- true
expect_usage 2 "unknown option '--fast'" run --fast -- true
expect_usage 2 "--from /dev/null: no ftrace function_graph call in it" trace --from /dev/null
expect_usage 2 "--bin /nonexistent/x: no such file" run --bin /nonexistent/x -- true
expect_usage 2 "probe takes no arguments: 'extra'" probe extra
if [ ! -w /dev/kvm ]; then expect_usage 2 "--accel kvm: /dev/kvm is missing or not writable here" run --accel kvm -- true; fi
# A saved guest trace renders through trace_packet_flow's writers: valid trace-event JSON and dot.
"$ringlab" vm trace --from "$src/tests/vm/data/virtio-mcast.ftrace.txt" --json "$out/r.json" --dot "$out/r.dot" > "$out/o" 2> "$out/e" ||
  fail "vm trace --from a recorded trace"
grep -q '^guest kernel route (ftrace function_graph; driver poll virtnet_poll): 32 calls on the route of 63 traced$' "$out/o" ||
  fail "vm trace --from: wrong summary line"
/usr/bin/python3 "$src/tests/unit/trace_flow/check_trace_json.py" "$out/r.json" > /dev/null || fail "r.json is not valid trace-event JSON"
if command -v dot > /dev/null; then dot -Tsvg "$out/r.dot" -o "$out/r.svg" 2> "$out/e" || fail "dot could not render r.dot"; fi
# --lab: the lab path's route of one datagram beside the guest's, in one Perfetto file and one dot.
expect_usage 2 "--lab-filter needs --lab FILE.pcap" trace --lab-filter udp
expect_usage 2 "--lab: " trace --from "$src/tests/vm/data/virtio-mcast.ftrace.txt" --lab /nonexistent/x.pcap
expect_usage 2 "--lab $src/traces/mcast-feed.pcap: no UDP datagram matches --lab-filter 'tcp'" \
  trace --from "$src/tests/vm/data/virtio-mcast.ftrace.txt" --lab "$src/traces/mcast-feed.pcap" --lab-filter tcp
"$ringlab" vm trace --from "$src/tests/vm/data/virtio-mcast.ftrace.txt" --lab "$src/traces/mcast-feed.pcap" \
  --json "$out/both.json" --dot "$out/both.dot" > "$out/o" 2> "$out/e" || fail "vm trace --from --lab"
/usr/bin/python3 "$src/tests/unit/trace_flow/check_trace_json.py" "$out/both.json" > /dev/null || fail "both.json is not valid trace-event JSON"
# One process per path; each path's slices in its own process, named as the route's hops.
/usr/bin/python3 - "$out/both.json" > "$out/paths" <<'PY' || fail "both.json: the two routes are not there as expected"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in ev if e.get("name") == "process_name"}
for pid in sorted(procs):
    hops = [e["args"]["hop"] for e in sorted((e for e in ev if e.get("ph") == "X" and e["pid"] == pid), key=lambda e: e["ts"])]
    print(procs[pid], len(hops), hops[0], hops[-1])
PY
printf '%s\n' "lab path (sim_nic -> rings -> stack) 12 nic_rx release" "guest_kernel path 32 virtnet_poll skb_consume_udp" |
  diff -u - "$out/paths" > "$out/paths.diff" || fail "both.json: processes, slices or end hops differ"
grep -q '^packet 1 (lab path)' "$out/o" || fail "vm trace --lab: no lab route in the timeline"
grep -q 'subgraph cluster_lab' "$out/both.dot" && grep -q 'subgraph cluster_guest_kernel' "$out/both.dot" ||
  fail "both.dot: not one column per path"
if command -v dot > /dev/null; then dot -Tsvg "$out/both.dot" -o "$out/both.svg" 2> "$out/e" || fail "dot could not render both.dot"; fi
[ "${3:-}" = --cli-only ] && { echo PASS; exit 0; }

probe="$("$src/tools/vm/ringlab-vm.sh" probe 2>&1)"; rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: $probe"; exit 77; fi
[ $rc -eq 0 ] || fail "probe: $probe"
start=$(date +%s%N)
"$ringlab" vm run --nic none --timeout 200 -- 'echo "out $(uname -r)"; ls /bin/ringlab; echo err-line >&2; exit 7' > "$out/stdout" 2> "$out/stderr"
rc=$?
echo "vm run: exit $rc in $(( ($(date +%s%N) - start) / 1000000 )) ms"
cat "$out/stderr"
[ $rc -eq 7 ] || fail "exit status $rc, want the guest command's 7"
kver="$(basename "$(ls -d "${RINGLAB_VM_DIR:-$src/build/vm}"/kernel/*/ | head -1)")"
printf 'out %s\n/bin/ringlab\n' "$kver" | cmp -s - "$out/stdout" || fail "stdout is not exactly 'out $kver' + '/bin/ringlab'"
grep -qx 'err-line' "$out/stderr" || fail "stderr lacks err-line"
grep -qE '^\[vm\] boot to prompt: [0-9]+ ms on the host clock( \(at most\))?, guest uptime [0-9.]+ s \(tcg, nic none\)(, qemu CPU [0-9]+ ms)?$' "$out/stderr" || fail "no boot time line"
echo PASS
