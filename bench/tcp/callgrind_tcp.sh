#!/bin/sh
# Instructions per segment on the TCP engine's established-state paths, under callgrind (issue 12
# point 7). Two tcp::connections over bench_tcp's in-memory wire (bench/tcp/engine_pair.hpp):
#   rx    b.on_segment() of a full data segment (1448 bytes, timestamps), with the ACKs it sends
#   tx    a.send() of one full segment's bytes (32 calls a batch), from the call to the sink
#   conn  one connection's life per unit: both objects built, handshake, FIN both ways, destroyed
#   callgrind_tcp.sh [PATH/TO/bench_tcp] [MODE=rx] [N=3200] [TOP=12]
# Runs `bench_tcp --callgrind MODE N` under valgrind with collection off except around the measured
# calls. Prints
#   instructions/UNIT: T          everything measured, per segment (per connection for conn)
#   sink instructions/UNIT: S     the in-memory wire's share: each segment sent (data or ACK) copied
#                                 into a frame (wire_queue::push, inclusive); a stack's output does more
#   engine instructions/UNIT: E   T - S: the engine's own
# and the top functions by exclusive Ir. Exit 77 (ctest: skipped) without valgrind.
set -eu
prog=${1:-build/default/bench/tcp/bench_tcp}
mode=${2:-rx}
n=${3:-3200}
top=${4:-12}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
  echo "SKIPPED: valgrind / callgrind_annotate not installed (Debian package valgrind)"
  exit 77
fi
[ -x "$prog" ] || { echo "callgrind_tcp.sh: no program at '$prog' (build target bench_tcp)" >&2; exit 2; }
case "$mode" in
  rx|tx) unit=segment ;;
  conn) unit=connection ;;
  *) echo "callgrind_tcp.sh: mode '$mode': rx, tx or conn" >&2; exit 2 ;;
esac
out=$(mktemp /tmp/callgrind_tcp.XXXXXX)
trap 'rm -f "$out" "$out.log" "$out.ann" "$out.inc"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" "$prog" --callgrind "$mode" "$n" \
  >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
done_n=$(sed -n "s/^${unit}s: \([0-9]*\)\$/\1/p" "$out.log")
[ -n "$done_n" ] && [ "$done_n" -gt 0 ] || { cat "$out.log" >&2; exit 1; }
callgrind_annotate --threshold=100 "$out" >"$out.ann" 2>/dev/null
ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out.ann" | tr -d , | head -n1)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind_tcp.sh: no PROGRAM TOTALS in callgrind_annotate's output" >&2; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$out.inc" 2>/dev/null
sink=$(grep -m1 'wire_queue::push(' "$out.inc" | sed -n 's/^ *\([0-9,]*\) .*/\1/p' | tr -d ,)
sink=${sink:-0}
echo "mode: $mode, measured ${unit}s: $done_n"
sed -n 's/^segment payload: /segment payload (bytes): /p' "$out.log"
echo "total Ir: $ir"
awk -v ir="$ir" -v s="$sink" -v n="$done_n" -v u="$unit" 'BEGIN {
  printf "instructions/%s: %.1f\nsink instructions/%s: %.1f\nengine instructions/%s: %.1f\n", u, ir / n, u, s / n, u, (ir - s) / n }'
echo "top functions (exclusive Ir over all measured ${unit}s):"
awk '/file:function/ { on = 1; next } on && NF && !/^-+$/' "$out.ann" | head -n "$top" | cut -c1-200
