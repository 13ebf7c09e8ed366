# Sourced by each lab's run.sh: finds the repository and the ringlab binary, and runs from the
# repository root (the labs name traces/ by relative path, as the traces README does).
# RINGLAB=/path/to/ringlab overrides the binary (the suite passes its own build's).
set -euo pipefail
export LC_ALL=C   # sort and uniq order bytes the same everywhere
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lab_dir="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"   # the lab's folder (run.sh's), before the cd below
ringlab="${RINGLAB:-$src/build/default/tools/ringlab}"
[ -x "$ringlab" ] || { echo "run.sh: $ringlab is not built (./lab build)" >&2; exit 1; }
cd "$src"
# Counter summaries without the one wall-clock line (the rest of a sim run is deterministic).
no_wall() { sed -e '/^wall time /d'; }
step() { printf '\n$ %s\n' "$*"; }
# For labs that write files: `out_dir NAME "$@"` takes an optional --out DIR (default
# $TMPDIR/ringlab-NAME), sets $out and creates it.
out_dir() {
  out="${TMPDIR:-/tmp}/ringlab-$1"
  case "${2:-}" in
    --out) [ -n "${3:-}" ] || { echo "run.sh: --out needs a DIR" >&2; exit 2; }; out="$3" ;;
    "") ;;
    *) echo "run.sh: unknown option '$2' (--out DIR)" >&2; exit 2 ;;
  esac
  mkdir -p "$out"
}
# A lab's own program (labs/NN-topic/CMakeLists.txt's ringlab_lab_program), from this build:
# `walk="$(lab_bin netmap_walk)"`. RINGLAB_LAB_BIN (set by the suite) names the lab's binary folder.
lab_bin() {
  local p="${RINGLAB_LAB_BIN:-$(dirname "$ringlab")/../labs/$(basename "$lab_dir")}/$1"
  [ -x "$p" ] || { echo "run.sh: $p is not built (cmake --build build/default --target $1)" >&2; exit 1; }
  printf '%s\n' "$p"
}
# `require netns afxdp ...`: the machine offers what the lab's root part needs, probed as the tests
# probe it (labs/lab_probe.cpp); otherwise exit 77 with the reason (the suite's skip).
require() {
  local probe="${RINGLAB_LAB_PROBE:-$(dirname "$ringlab")/../labs/lab_probe}"
  [ -x "$probe" ] || { echo "run.sh: $probe is not built (cmake --build build/default --target lab_probe)" >&2; exit 1; }
  local rc=0
  "$probe" "$@" || rc=$?
  [ "$rc" -eq 0 ] || exit "$rc"
}
