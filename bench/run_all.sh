#!/usr/bin/env bash
# `./lab bench` calls this: every benchmark program of a build with interleaved repetitions, the
# callgrind counts of the bypass receive path and of the TCP engine's segment paths, and one report
# (bench/report.py does the work).
#
#   bash bench/run_all.sh BUILD_DIR [--quick] [--readme [FILE]] [--note TEXT] [--only NAME,...]
#
# The programs are listed in BUILD_DIR/bench/benches.txt (bench/CMakeLists.txt writes it from the
# global property RINGLAB_BENCHES that ringlab_bench() fills), so a new benchmark appears by itself.
# Output in bench-results/ (beside the root README): report.md, report.json, one SVG per group, raw/.
# --readme: also replace the README's "Measured" section with the report's table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?usage: bash bench/run_all.sh BUILD_DIR [--quick] [--readme [FILE]] [--note TEXT]}"
shift
exec python3 "$here/report.py" run "$build" "$@"
