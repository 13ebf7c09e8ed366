#!/usr/bin/env bash
# check_lab.sh RUN_SH EXPECTED [ARGS...]: the suite's check of one lab (labs/CMakeLists.txt). Runs
# RUN_SH, then compares its standard output with EXPECTED line for line. run.sh's exit status 77 means
# the machine lacks what the lab needs (its reason is on stderr): passed on as a skip, before any diff.
set -uo pipefail
run_sh="$1" expected="$2"
shift 2
out="$(mktemp)" err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT
bash "$run_sh" "$@" > "$out" 2> "$err"
rc=$?
if [ "$rc" -eq 77 ]; then
  cat "$err"
  exit 77
fi
if [ "$rc" -ne 0 ]; then
  cat "$err"
  echo "FAIL: $run_sh exited $rc"
  exit 1
fi
diff -u "$expected" "$out" || { cat "$err"; echo "FAIL: $run_sh printed something else than $expected"; exit 1; }
