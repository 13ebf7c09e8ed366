#!/bin/sh
# Instructions per transaction / per server segment of the tcp_lanes bench's work, 1 lane vs N, on one
# thread with a virtual clock (callgrind_tcp_lanes.cpp says why).
#   callgrind_tcp_lanes.sh [PATH/TO/callgrind_tcp_lanes] [LANES=1] [MEASURED=8000] [TOP=15] [WARMUP=4000]
# (bench/report.py's order: PROGRAM MODE N TOP.)
# Prints instructions/transaction, instructions/segment (server lanes' in + out segments: the
# bench's lane_cpu_ns_per_seg divides by the same), instructions/round (one poll_all: every lane's
# ingest + poll + handlers), segments/round, and the top functions by exclusive Ir. Exit 77 without valgrind.
set -eu
prog=${1:-build/default/bench/tcp_lanes/callgrind_tcp_lanes}
lanes=${2:-1}
measured=${3:-8000}
top=${4:-15}
warmup=${5:-4000}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
  echo "SKIPPED: valgrind / callgrind_annotate not installed (Debian package valgrind)"
  exit 77
fi
[ -x "$prog" ] || { echo "callgrind_tcp_lanes.sh: no program at '$prog' (build target callgrind_tcp_lanes)" >&2; exit 2; }
out=$(mktemp /tmp/callgrind_tcp_lanes.XXXXXX)
trap 'rm -f "$out" "$out.log" "$out.ann"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  "$prog" "$lanes" "$warmup" "$measured" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
grep -q "^measured transactions: $measured\$" "$out.log" || { cat "$out.log" >&2; exit 1; }
segs=$(sed -n 's/^server segments: //p' "$out.log")
rounds=$(sed -n 's/^rounds: //p' "$out.log")
callgrind_annotate --threshold=100 "$out" >"$out.ann" 2>/dev/null
ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out.ann" | tr -d , | head -n1)
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind_tcp_lanes.sh: no PROGRAM TOTALS" >&2; exit 1; }
echo "lanes: $lanes, measured transactions: $measured (after $warmup), server segments: $segs, rounds: $rounds"
awk -v ir="$ir" -v m="$measured" -v s="$segs" -v r="$rounds" 'BEGIN {
  printf "instructions/transaction: %.1f\ninstructions/segment: %.1f\nround instructions/round: %.1f\nsegments/round: %.2f\n",
         ir / m, ir / s, ir / r, s / r }'
echo "top functions (exclusive Ir over the measured transactions):"
awk '/file:function/ { on = 1; next } on && NF && !/^-+$/' "$out.ann" | head -n "$top" | cut -c1-200
