#!/bin/sh
# Instructions per packet on the whole bypass receive path (sim_nic ingest -> rx_burst -> stack ->
# bypass socket -> handler), with the NIC's share on its own line.
#   callgrind_rx.sh [PATH/TO/callgrind_rx] [MEASURED=10000] [WARMUP=20000] [TOP=15] [CSUM=sw|offload] [RECV=single|batch]
# RECV batch: the handler re-arms async_receive_batch with 32 slots instead of async_receive_from.
# CSUM offload: sim_nic checks the IPv4/UDP checksums at ingest, the stack skips them.
# Runs callgrind_rx under `valgrind --tool=callgrind --instr-atstart=no`; the program switches
# instrumentation on for exactly MEASURED packets. Prints
#   instructions/packet: T        everything, ingest to handler
#   nic instructions/packet: N    sim_nic::step, inclusive: the copy into the pool and, with offload,
#                                 the checksum checks (work a real NIC does without the host CPU)
#   host instructions/packet: H   T - N: rx_burst to the handler
# and the top functions by exclusive Ir (callgrind_annotate). Exit 77 (ctest: skipped) without valgrind.
set -eu
prog=${1:-build/default/bench/bypass_udp/callgrind_rx}
measured=${2:-10000}
warmup=${3:-20000}
top=${4:-15}
csum=${5:-sw}
recv=${6:-single}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
  echo "SKIPPED: valgrind / callgrind_annotate not installed (Debian package valgrind)"
  exit 77
fi
[ -x "$prog" ] || { echo "callgrind_rx.sh: no program at '$prog' (build target callgrind_rx)" >&2; exit 2; }
out=$(mktemp /tmp/callgrind_rx.XXXXXX)
trap 'rm -f "$out" "$out.log" "$out.ann" "$out.inc"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  "$prog" "$warmup" "$measured" "$csum" "$recv" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
grep -q "^measured packets: $measured\$" "$out.log" || { cat "$out.log" >&2; exit 1; }
callgrind_annotate --threshold=100 "$out" >"$out.ann" 2>/dev/null
ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out.ann" | tr -d , | head -n1)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind_rx.sh: no PROGRAM TOTALS in callgrind_annotate's output" >&2; exit 1; }
echo "measured packets: $measured (after $warmup warm-up), 64-byte UDP payload, RX checksums: $csum"
echo "receive: $recv"
callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$out.inc" 2>/dev/null
nic=$(grep -m1 'sim_nic::step(' "$out.inc" | sed -n 's/^ *\([0-9,]*\) .*/\1/p' | tr -d ,)
[ -n "$nic" ] && [ "$nic" -gt 0 ] || { echo "callgrind_rx.sh: no sim_nic::step in the inclusive counts" >&2; exit 1; }
echo "total Ir: $ir"
echo "nic Ir: $nic"
awk -v ir="$ir" -v nic="$nic" -v m="$measured" 'BEGIN {
  printf "instructions/packet: %.1f\nnic instructions/packet: %.1f\nhost instructions/packet: %.1f\n", ir / m, nic / m, (ir - nic) / m }'
echo "top functions (exclusive Ir over all measured packets; file is where the inlined code came from):"
awk '/file:function/ { on = 1; next } on && NF && !/^-+$/' "$out.ann" | head -n "$top" | cut -c1-220
