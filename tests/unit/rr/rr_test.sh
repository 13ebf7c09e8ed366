#!/usr/bin/env bash
# rr_test.sh CASE PROBE LAB_RR [RINGLAB]: the tests of `./lab rr` (tools/rr_probe). Whether rr can
# record here is decided apart from our code: `rr record true` run directly (the ground truth). Exit 77
# (ctest skip) with the reason when a case does not apply to this machine.
#   refuses     where rr cannot record: lab_rr.sh prints exactly one line "rr: cannot record: CHECK:
#               WHY; fix: HOW", exits 3 and records nothing.
#   rr_itself   the same with a probe stub that passes, so the refusal must come from rr's own check
#               (here: a CPU rr 5.6 does not know) and quote rr's message.
#   paranoid    the probe's first check on a given setting: 3 without capabilities refuses with the
#               sysctl fix; 1 passes that check (whatever the counters then say).
#   records     where rr can record: lab_rr.sh records `ringlab rings --check spsc`, prints the replay
#               command, and `rr replay -a` of that trace prints the same output.
set -uo pipefail
case_="$1"; probe="$2"; lab_rr="$3"; ringlab="${4:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/rr_test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

truth() {  # 0 when rr records here; its message in $work/truth.log otherwise
  command -v rr >/dev/null || { echo "rr is not installed" > "$work/truth.log"; return 1; }
  rr record -o "$work/truth" true > "$work/truth.log" 2>&1
}
one_refusal() {  # $1: output file, $2: exit status, $3: text the line must contain
  [ "$2" = 3 ] || { cat "$1"; fail "expected exit 3 (cannot record), got $2"; }
  [ "$(wc -l < "$1")" = 1 ] || { cat "$1"; fail "expected exactly one line"; }
  grep -qE '^rr: cannot record: [^:]+: .+; fix: .+' "$1" || { cat "$1"; fail "not the 'CHECK: WHY; fix: HOW' line"; }
  grep -qF -- "$3" "$1" || { cat "$1"; fail "the line does not name '$3'"; }
  [ -z "$(ls -A "$work/out" 2>/dev/null)" ] || { ls -la "$work/out"; fail "a refusal left files in the trace directory"; }
  echo "OK: $(cat "$1")"
}

case "$case_" in
  refuses)
    if truth; then echo "SKIP: rr records on this machine, so there is no refusal to check"; exit 77; fi
    echo "ground truth: rr record true fails here: $(grep -m1 . "$work/truth.log")"
    bash "$lab_rr" "$probe" "$work/out" true > "$work/stdout" 2>&1
    rc=$?
    # Which check must be named: the probe's own verdict, or rr's when the probe passes.
    if "$probe" > /dev/null; then want="itself"; else want="$("$probe" | sed -E 's/^rr: cannot record: ([^:]+):.*/\1/')"; fi
    one_refusal "$work/stdout" "$rc" "$want"
    ;;
  rr_itself)
    if truth; then echo "SKIP: rr records on this machine, so rr has nothing to refuse"; exit 77; fi
    command -v rr >/dev/null || { echo "SKIP: rr is not installed"; exit 77; }
    printf '#!/bin/sh\necho "counters ok (stub)"\n' > "$work/stub" && chmod +x "$work/stub"
    bash "$lab_rr" "$work/stub" "$work/out" true > "$work/stdout" 2>&1
    rc=$?
    one_refusal "$work/stdout" "$rc" "itself: "
    # rr's own message, quoted without its [FATAL file:line] prefix.
    rrmsg="$(grep -m1 -E 'FATAL|ERROR|rr needs|unknown|not supported' "$work/truth.log" |
             sed -E 's/^\[(FATAL|ERROR) [^]]*\] *//' | tr -s ' \t' ' ')"
    [ -z "$rrmsg" ] || grep -qF -- "$rrmsg" "$work/stdout" || fail "the line does not quote rr's message '$rrmsg'"
    ;;
  paranoid)
    echo 3 > "$work/p3"
    out="$("$probe" --paranoid-file "$work/p3" --no-caps)"; rc=$?
    [ "$rc" = 1 ] || fail "paranoid 3 without capabilities: expected exit 1, got $rc ($out)"
    [ "$out" = "rr: cannot record: perf_event_paranoid: it is 3 and rr needs <= 1 without CAP_PERFMON; fix: sudo sysctl kernel.perf_event_paranoid=1" ] ||
      fail "unexpected line: $out"
    echo 1 > "$work/p1"
    out="$("$probe" --paranoid-file "$work/p1" --no-caps)"
    case "$out" in *perf_event_paranoid:*) fail "paranoid 1 must pass the first check: $out" ;; esac
    out="$("$probe" --paranoid-file "$work/missing")"; rc=$?
    [ "$rc" = 1 ] && [[ "$out" == *"cannot read $work/missing"* ]] || fail "unreadable setting: rc $rc, $out"
    echo "OK: paranoid 3 refused with the sysctl fix, 1 passes, an unreadable file is named"
    ;;
  records)
    if ! truth; then echo "SKIP: rr cannot record here: $(grep -m1 . "$work/truth.log")"; exit 77; fi
    [ -x "$ringlab" ] || fail "no ringlab binary at '$ringlab'"
    expect="$("$ringlab" rings --check spsc 2>&1)" || fail "ringlab rings --check spsc failed: $expect"
    bash "$lab_rr" "$probe" "$work/out" "$ringlab" rings --check spsc > "$work/stdout" 2>&1 ||
      { cat "$work/stdout"; fail "lab_rr.sh did not record"; }
    trace="$(sed -n 's/^rr: replay with: rr replay \([^ ]*\) .*/\1/p' "$work/stdout")"
    [ -n "$trace" ] && [ -d "$trace" ] || { cat "$work/stdout"; fail "no replay command naming a trace directory"; }
    replay="$(rr replay -a "$trace" 2>&1)" || fail "rr replay -a failed: $replay"
    [[ "$replay" == *"$expect"* ]] || fail "the replay printed '$replay', the run printed '$expect'"
    echo "OK: recorded in $trace and replayed the same output"
    ;;
  *) echo "rr_test.sh: unknown case '$case_'" >&2; exit 2 ;;
esac
