# Sourced by each lab's run.sh: finds the repository and the ringlab binary, and runs from the
# repository root (the labs name traces/ by relative path, as the traces README does).
# RINGLAB=/path/to/ringlab overrides the binary (the suite passes its own build's).
set -euo pipefail
export LC_ALL=C   # sort and uniq order bytes the same everywhere
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
