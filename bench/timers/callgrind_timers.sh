#!/bin/sh
# Instructions per timer operation with 100 000 timers armed, under callgrind: one round of 1024
# operations of each kind (arm, cancel, fire) on each structure named (default: all three).
#   callgrind_timers.sh [PATH/TO/bench_timers] [STRUCTURE...]
# Prints "OP/STRUCTURE: N instructions/op" per pair. Exit 77 (ctest: skipped) without valgrind.
set -eu
prog=${1:-build/default/bench/timers/bench_timers}
[ $# -gt 0 ] && shift
structures=${*:-timer_queue std_multimap std_priority_queue}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
  echo "SKIPPED: valgrind / callgrind_annotate not installed (Debian package valgrind)"
  exit 77
fi
[ -x "$prog" ] || { echo "callgrind_timers.sh: no program at '$prog' (build target bench_timers)" >&2; exit 2; }
out=$(mktemp /tmp/callgrind_timers.XXXXXX)
trap 'rm -f "$out" "$out.log" "$out.ann"' EXIT
for s in $structures; do
  for op in arm cancel fire; do
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$prog" --callgrind "$op" "$s" \
      >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
    n=$(sed -n 's/^operations: \([0-9]*\)$/\1/p' "$out.log")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { cat "$out.log" >&2; exit 1; }
    callgrind_annotate --threshold=100 "$out" >"$out.ann" 2>/dev/null
    ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out.ann" | tr -d , | head -n1)
    [ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind_timers.sh: no PROGRAM TOTALS for $op/$s" >&2; exit 1; }
    awk -v ir="$ir" -v n="$n" -v name="$op/$s" 'BEGIN { printf "%s: %.1f instructions/op (%d ops)\n", name, ir / n, n }'
  done
done
