#!/bin/sh
# Instructions per transaction (rr), per connection (short) or per MB received (bulk, 10^6 bytes) of
# bench_tcp_app's bypass_sim row under
# callgrind: the same app, both ends, two sim_nics on sim's wire, on one thread. The repeatable figure
# beside the wall-clock rows (issue 13 point 6).
#   callgrind_tcp_app.sh [PATH/TO/bench_tcp_app] [MODE=rr] [N=2000] [TOP=12]
# MODE rr, short, bulk: bypass_sim (sim's TX checksum offload); rr_sw, short_sw, bulk_sw: bypass_sim_sw.
# Runs `bench_tcp_app --callgrind MODE N` under valgrind with collection on only around the N units
# (bulk: N MB, in whole 64 KiB chunks; connection set-up, ARP and a warm-up outside). Prints
#   instructions/UNIT: T       everything measured, per unit, both ends
#   nic instructions/UNIT: S   sim_nic's share: transmit onto the wire (a heap copy per frame) and
#                              advance_to (the copy into the peer's pool, the RX ring), inclusive;
#                              what a NIC's DMA would do
#   host instructions/UNIT: H  T - S: the app, Asio, bypass_service, the stack, the driver loop
#   frames/UNIT: F             frames both NICs sent per unit
#   train frames/UNIT: T       of those, built from a TCP segment train's one header (send_train)
# and the top functions by exclusive Ir. Exit 77 (ctest: skipped) without valgrind. With
# CALLGRIND_KEEP=FILE the raw profile is kept there (callgrind_annotate --inclusive=yes FILE).
set -eu
prog=${1:-build/default/bench/tcp_app/bench_tcp_app}
mode=${2:-rr}
n=${3:-2000}
top=${4:-12}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
  echo "SKIPPED: valgrind / callgrind_annotate not installed (Debian package valgrind)"
  exit 77
fi
[ -x "$prog" ] || { echo "callgrind_tcp_app.sh: no program at '$prog' (build target bench_tcp_app)" >&2; exit 2; }
case "$mode" in   # MODE_sw: the bypass_sim_sw world (no checksum offload on sim's wire)
  rr|rr_sw) unit=transaction ;;
  short|short_sw) unit=connection ;;
  bulk|bulk_sw) unit=MB ;;
  *) echo "callgrind_tcp_app.sh: mode '$mode': rr, short or bulk (or rr_sw, short_sw, bulk_sw)" >&2; exit 2 ;;
esac
out=$(mktemp /tmp/callgrind_tcp_app.XXXXXX)
trap 'rm -f "$out" "$out.log" "$out.ann" "$out.inc"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" "$prog" --callgrind "$mode" "$n" \
  >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
if [ "$unit" = MB ]; then
  bytes=$(sed -n 's/^bytes: \([0-9]*\)$/\1/p' "$out.log")
  [ -n "$bytes" ] && [ "$bytes" -gt 0 ] || { cat "$out.log" >&2; exit 1; }
  done_n=$(awk -v b="$bytes" 'BEGIN { printf "%.6f", b / 1e6 }')
else
  done_n=$(sed -n "s/^${unit}s: \([0-9]*\)\$/\1/p" "$out.log")
  [ -n "$done_n" ] && [ "$done_n" -gt 0 ] || { cat "$out.log" >&2; exit 1; }
fi
frames=$(sed -n 's/^frames: \([0-9]*\)$/\1/p' "$out.log")
train_frames=$(sed -n 's/^train frames: \([0-9]*\)$/\1/p' "$out.log")
callgrind_annotate --threshold=100 "$out" >"$out.ann" 2>/dev/null
ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out.ann" | tr -d , | head -n1)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind_tcp_app.sh: no PROGRAM TOTALS in callgrind_annotate's output" >&2; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$out.inc" 2>/dev/null
incl() { v=$(grep -m1 "$1" "$out.inc" | sed -n 's/^ *\([0-9,]*\) .*/\1/p' | tr -d ,); echo "${v:-0}"; }
nic=$(( $(incl 'sim_nic::transmit(') + $(incl 'sim_nic::advance_to(unsigned long, unsigned long)') ))
[ -z "${CALLGRIND_KEEP:-}" ] || cp "$out" "$CALLGRIND_KEEP"
echo "mode: $mode, measured ${unit}s: $done_n"
sed -n 's/^retransmissions: /retransmissions while measured: /p' "$out.log"
echo "total Ir: $ir"
awk -v ir="$ir" -v s="$nic" -v n="$done_n" -v u="$unit" -v f="${frames:-0}" -v tf="${train_frames:-0}" 'BEGIN {
  printf "instructions/%s: %.1f\nnic instructions/%s: %.1f\nhost instructions/%s: %.1f\nframes/%s: %.2f\ntrain frames/%s: %.2f\n",
         u, ir / n, u, s / n, u, (ir - s) / n, u, f / n, u, tf / n }'
echo "top functions (exclusive Ir over all measured ${unit}s):"
awk '/file:function/ { on = 1; next } on && NF && !/^-+$/' "$out.ann" | head -n "$top" | cut -c1-200
