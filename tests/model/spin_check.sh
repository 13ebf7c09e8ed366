#!/usr/bin/env bash
# spin_check.sh: verify one Promela model of rings/models with spin, in a scratch directory.
#
#   spin_check.sh MODEL.pml MODE [-DNAME=VALUE ...] [--order "L1 L2 ..."] [--expect TEXT] [--opt -O2]
#
# MODE:
#   safety     exhaustive search (pan -DSAFETY): no assertion violated, no invalid end state, the
#              search completed, and no unreached state in any process (so every branch the model has,
#              the slow path that reloads a cached index included, was taken at least once).
#   liveness   non-progress cycles under weak fairness (pan -DNP, -l -f): none.
#   violation  the search must FAIL with an assertion violation and write a trail; the trail is then
#              replayed with `spin -t -p`, which must end in the same violation, and the steps at the
#              labelled lines named by --order must appear in the replay in that order (how the test
#              shows WHICH reordering breaks the protocol); --expect TEXT must occur in the text of
#              the failed assertion (which check caught it), spaces ignored on both sides
#              ("v == expect" and "v==expect" are the same check).
#   livelock   the non-progress search (as liveness) must FAIL with a non-progress cycle, and
#              `spin -t -p` must replay it to the start of the cycle.
# -D options go to spin's preprocessor (model bounds, variants such as -DWEAK). --opt: how to compile
# spin's verifier (default -O0: for the small bounds compiling costs more than searching).
# Exit: 0 as expected, 1 otherwise, 77 when spin or a C compiler is missing (ctest SKIP_RETURN_CODE).
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MODEL.pml safety|liveness|violation|livelock [-D...] [--order 'L1 L2']" >&2; exit 2; }
model="$1"; mode="$2"; shift 2
defs=(); order=""; expect=""; opt=-O0
while [ $# -gt 0 ]; do
  case "$1" in
    -D*) defs+=("$1"); shift ;;
    --order) order="$2"; shift 2 ;;
    --expect) expect="$2"; shift 2 ;;
    --opt) opt="$2"; shift 2 ;;
    *) echo "spin_check: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -f "$model" ] || { echo "spin_check: no model file '$model'" >&2; exit 2; }
command -v spin >/dev/null || { echo "SKIP: spin is not installed (apt-get install spin; ./lab installs it)"; exit 77; }
cc="${CC:-cc}"
command -v "$cc" >/dev/null || { echo "SKIP: no C compiler '$cc' to build spin's verifier"; exit 77; }

name="$(basename "$model")"
work="$(mktemp -d "${TMPDIR:-/tmp}/spin_check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/$name"
cd "$work" || exit 1
fail() { echo "FAIL: $name $mode ${defs[*]}: $*"; exit 1; }

spin "${defs[@]}" -a "$name" > spin.out 2>&1 || { cat spin.out; fail "spin -a rejected the model"; }
case "$mode" in
  safety|violation) cflags=(-DSAFETY); panargs=(-m200000) ;;
  liveness|livelock) cflags=(-DNP); panargs=(-m200000 -l -f) ;;
  *) echo "spin_check: unknown mode '$mode'" >&2; exit 2 ;;
esac
# -DMEMLIM: stop at 4 GiB with a message rather than swap the machine.
"$cc" "$opt" -w "${cflags[@]}" -DMEMLIM=4096 -o pan pan.c > cc.out 2>&1 || { cat cc.out; fail "cannot compile pan.c"; }
./pan "${panargs[@]}" > pan.out 2>&1
summary="$(grep -E 'states, stored|elapsed time' pan.out | tr -s ' \t' ' ' | paste -sd ';' -)"
errors="$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -1)"
[ -n "$errors" ] || { cat pan.out; fail "pan did not finish"; }
grep -qE 'max search depth too small|out of memory|Search not completed' pan.out && [ "$errors" = 0 ] &&
  { cat pan.out; fail "the search did not complete"; }

if [ "$mode" = livelock ]; then
  grep -q 'non-progress cycle' pan.out && [ -f "$name.trail" ] || { cat pan.out; fail "expected a non-progress cycle and its trail"; }
  spin "${defs[@]}" -t -p "$name" > replay.out 2>&1
  grep -q 'START OF CYCLE' replay.out || { tail -40 replay.out; fail "spin -t did not replay the cycle"; }
  echo "trail: the cycle: $(sed -n '/START OF CYCLE/,$p' replay.out | grep -cE '^ *[0-9]+:.*proc .*\[') steps repeat forever without progress"
  echo "OK: $name livelock ${defs[*]}: spin found a non-progress cycle and spin -t replays it; $summary"
  exit 0
fi
if [ "$mode" != violation ]; then
  if [ "$errors" != 0 ]; then
    cat pan.out
    echo "--- counterexample (spin -t -p) ---"
    spin "${defs[@]}" -t -p "$name" 2>&1 | tail -60
    fail "$errors error(s)"
  fi
  if [ "$mode" = safety ]; then
    unreached="$(awk '/^unreached in/ {p=$0; u=1; next} !/^\t/ {u=0} u && /^\t\([0-9]+ of/ {if ($1 != "(0") print p " " $0; next} u {print "  " $0}' pan.out)"
    [ -z "$unreached" ] || { echo "$unreached"; fail "states never reached (a branch the model never takes)"; }
  fi
  echo "OK: $name $mode ${defs[*]}: 0 errors; $summary"
  exit 0
fi

# violation: pan must have found the error and written a trail that spin replays to the same error.
[ "$errors" -ge 1 ] || { cat pan.out; fail "expected a counterexample, spin found none"; }
grep -q 'assertion violated' pan.out || { cat pan.out; fail "expected an assertion violation"; }
[ -f "$name.trail" ] || fail "pan wrote no trail"
spin "${defs[@]}" -t -p "$name" > replay.out 2>&1
grep -q 'assertion violated' replay.out || { tail -40 replay.out; fail "spin -t did not replay the violation"; }
failed="$(grep -m1 'text of failed assertion' replay.out)"
# Compared with all whitespace removed on both sides: spin prints `assert((v==expect))` whatever the
# model's spacing, and a reader copies `v == expect` from the model or the README.
[ -z "$expect" ] || [[ "${failed//[[:space:]]/}" == *"${expect//[[:space:]]/}"* ]] ||
  { tail -40 replay.out; fail "expected the check '$expect' to fail, got: $failed"; }
# The labelled steps, in order: a step is "NAME.pml:LINE" where LINE carries "LABEL:".
pos=0
for label in $order; do
  # The label's line, and the next one when the label opens an atomic block (spin reports the
  # block's statements at their own lines).
  lines="$(awk -v re="^[[:space:]]*$label:" '$0 ~ re {print NR; if ($0 ~ /(atomic|d_step) \{/) print NR + 1}' "$name" | paste -sd '|' -)"
  [ -n "$lines" ] || fail "no label '$label' in the model"
  at="$(awk -v from="$pos" -v pat="$name:($lines) " 'NR > from && $0 ~ pat {print NR; exit}' replay.out)"
  [ -n "$at" ] || { tail -60 replay.out; fail "the replay has no step at label $label after step line $pos"; }
  echo "trail: $label: $(sed -n "${at}p" replay.out | tr -s ' \t' ' ')"
  pos=$at
done
viol="$(grep -n -m1 'assertion violated' replay.out | cut -d: -f1)"
[ "$viol" -gt "$pos" ] || fail "the violation comes before the labelled steps"
echo "trail: $failed"
echo "OK: $name violation ${defs[*]}: spin found it and spin -t replays it ($(grep -c '^ *[0-9]*:.*proc' replay.out) steps); $summary"
