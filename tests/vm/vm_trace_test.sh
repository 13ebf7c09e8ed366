#!/usr/bin/env bash
# Boots the QEMU guest, sends one datagram from the host namespace to `ringlab mcast-recv` in the guest,
# and checks that the guest kernel's function-level route names the driver's poll function, the IP
# receive (ip_rcv, or ip_list_rcv: 6.1's NAPI GRO hands IP lists), udp_rcv/__udp4_lib_rcv and
# udp_recvmsg in that order, and that the Perfetto JSON and the dot file are valid.
#   vm_trace_test.sh RINGLAB_BINARY SOURCE_DIR [virtio|e1000]
# Exit 77 (skip) only when the machine lacks what the VM needs: QEMU, cpio, busybox-static, the Debian
# kernel image (probed by `ringlab-vm.sh probe`, which checks Debian's tools and package only), or root.
set -uo pipefail
ringlab="$1" src="$2" nic="${3:-virtio}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespace and tap for the guest)"; exit 77; }
probe="$("$src/tools/vm/ringlab-vm.sh" probe 2>&1)"; rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: $probe"; exit 77; fi
[ $rc -eq 0 ] || { echo "FAIL: probe: $probe"; exit 1; }
echo "$probe"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$out/stdout"; exit 1; }
start=$(date +%s%N)
"$ringlab" vm trace --nic "$nic" --json "$out/route.json" --dot "$out/route.dot" > "$out/stdout" 2> "$out/stderr"
rc=$?
echo "vm trace ($nic): exit $rc in $(( ($(date +%s%N) - start) / 1000000 )) ms"
cat "$out/stderr"
[ $rc -eq 0 ] || fail "ringlab vm trace exited $rc"
grep -q '^guest app (ringlab mcast-recv) received: ringlab-vm-trace-[0-9]*$' "$out/stdout" || fail "the guest app did not receive the datagram"
case "$nic" in virtio) poll=virtnet_poll ;; e1000) poll=e1000_clean ;; esac
# The hop column of the timeline, in route order.
awk '/^ +[0-9]+  [A-Za-z_]/ {print $2}' "$out/stdout" > "$out/hops"
order="$(grep -n -x -E "$poll|ip_rcv|ip_list_rcv|udp_rcv|__udp4_lib_rcv|udp_recvmsg" "$out/hops" | cut -d: -f2 | tr '\n' ' ')"
echo "landmarks in route order: $order"
[[ "$order" =~ ^$poll\ (ip_rcv|ip_list_rcv)\ udp_rcv\ __udp4_lib_rcv\ udp_recvmsg\ $ ]] || fail "landmarks out of order: $order"
grep -q -E '^ +[0-9]+  __udp4_lib_rcv .* net/ipv4/udp.c __udp4_lib_rcv' "$out/stdout" || fail "__udp4_lib_rcv without its source file"
# The guest's kprobes fetch the skb pointer at each landmark: one and the same skb from the driver
# (eth_type_trans) to recvmsg (skb_consume_udp).
skbs="$(grep -E '^ +[0-9]+  (eth_type_trans|__udp4_lib_rcv|skb_consume_udp) ' "$out/stdout" | grep -o 'kprobe skb=0x[0-9a-f]*' | sort | uniq -c)"
echo "kprobes: $skbs"
[ "$(printf '%s\n' "$skbs" | wc -l)" -eq 1 ] && printf '%s' "$skbs" | grep -q '^ *3 kprobe skb=0x' ||
  fail "the kprobes do not show one skb at eth_type_trans, __udp4_lib_rcv and skb_consume_udp: $skbs"
/usr/bin/python3 "$src/tests/unit/trace_flow/check_trace_json.py" "$out/route.json" || fail "route.json is not valid trace-event JSON"
if command -v dot >/dev/null; then dot -Tsvg "$out/route.dot" -o "$out/route.svg" || fail "dot could not render route.dot"; fi
grep -q "$poll" "$out/route.json" || fail "route.json does not name $poll"
echo "PASS"
