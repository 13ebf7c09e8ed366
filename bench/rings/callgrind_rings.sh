#!/bin/bash
# Instructions per item of each ring's burst path, single thread, under callgrind (exact, repeatable):
# callgrind_rings runs N and 2N bursts of enqueue + dequeue; the difference / (N * BURST) is per item.
# usage: callgrind_rings.sh CALLGRIND_RINGS [BURST [N [DESIGN...]]]
# Built by the default preset (-O2, no -march): valgrind 3.19 cannot decode the AVX-512 that
# -march=native emits on the lab's machines. Exit 77 without valgrind.
set -euo pipefail
bin=${1:?usage: callgrind_rings.sh CALLGRIND_RINGS [BURST [N [DESIGN...]]]}
burst=${2:-32}
n=${3:-1000}
shift $(( $# < 3 ? $# : 3 ))
designs=("$@")
[ ${#designs[@]} -gt 0 ] || designs=(batch spsc boost-spsc rte-sp-sc)
command -v valgrind >/dev/null || { echo "callgrind_rings.sh: valgrind not installed: skipped"; exit 77; }
[ -x "$bin" ] || { echo "callgrind_rings.sh: $bin is not an executable" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() {   # DESIGN ESIZE COUNT -> instructions in measured_bursts
  local rc=0
  valgrind --tool=callgrind --toggle-collect='*measured_bursts*' --callgrind-out-file="$out/cg" \
    "$bin" "$1" "$2" "$burst" "$3" >/dev/null 2>"$out/err" || rc=$?
  if [ $rc -ne 0 ]; then
    [ $rc -eq 77 ] && return 77
    echo "callgrind_rings.sh: $1 ${2}B failed (exit $rc):" >&2; cat "$out/err" >&2; exit 1
  fi
  awk '/^(summary|totals):/ {print $2; exit}' "$out/cg"
}
echo "instructions per item, burst $burst, enqueue + dequeue, single thread ($n vs $((2 * n)) bursts)"
for esize in 8 64; do
  for d in "${designs[@]}"; do
    a=$(ir "$d" $esize "$n") || { echo "$d ${esize}B: not built (no DPDK)"; continue; }
    b=$(ir "$d" $esize $((2 * n)))
    awk -v d="$d" -v e="$esize" -v a="$a" -v b="$b" -v n="$n" -v k="$burst" \
      'BEGIN { printf "%s %sB: %.2f Ir/item\n", d, e, (b - a) / (n * k) }'
  done
done
