#!/usr/bin/env bash
# lab_rr.sh PROBE OUT_DIR CMD [ARGS...]: what `./lab rr CMD...` runs once the probe is built.
# Records CMD with rr into a fresh directory under OUT_DIR and prints the replay command; or, where rr
# cannot record, prints ONE line "rr: cannot record: CHECK: WHY; fix: HOW" and exits 3. Checks, in order:
#   1. rr is installed;
#   2. ringlab_rr_probe (PROBE): perf_event_paranoid, the hardware instructions counter opens, it counts;
#   3. rr itself records `true` (rr refuses CPUs it does not know, e.g. newer AMD families in rr 5.6).
# Exit: CMD's own status after a recording; 3 when rr cannot record here; 2 on bad usage.
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: lab_rr.sh PROBE OUT_DIR CMD [ARGS...]" >&2; exit 2; }
probe="$1"; out="$2"; shift 2
refuse() { echo "rr: cannot record: $*"; exit 3; }

command -v rr >/dev/null || refuse "rr: not installed; fix: apt-get install rr (./lab installs it with its packages)"
[ -x "$probe" ] || { echo "lab_rr: no probe at '$probe' (build target ringlab_rr_probe)" >&2; exit 2; }
line="$("$probe")" || { echo "$line"; exit 3; }

mkdir -p "$out" || { echo "lab_rr: cannot create '$out'" >&2; exit 2; }
scratch="$(mktemp -d "$out/.rr-check.XXXXXX")"
if ! rr record -o "$scratch/trace" true > "$scratch/log" 2>&1; then
  msg="$(grep -m1 -E 'FATAL|ERROR|rr needs|unknown|not supported' "$scratch/log" || head -1 "$scratch/log")"
  msg="$(printf '%s' "$msg" | sed -E 's/^\[(FATAL|ERROR) [^]]*\] *//' | tr -s ' \t' ' ')"
  rm -rf "$scratch"
  case "$msg" in
    *"CPU type"*unknown*|*"microarch"*)
      refuse "rr $(rr --version | awk '{print $3}') itself: $msg; fix: this CPU is newer than this rr: build a newer rr (github.com/rr-debugger/rr) or record on a supported CPU" ;;
    *perf_event_paranoid*)
      refuse "rr itself: $msg; fix: sudo sysctl kernel.perf_event_paranoid=1" ;;
    *SpecLockMap*|*Zen*)
      refuse "rr itself: $msg; fix: run rr's scripts/zen_workaround.py as root (AMD Zen)" ;;
    *)
      refuse "rr itself: ${msg:-rr record true failed}; fix: see https://github.com/rr-debugger/rr/wiki/Will-rr-work-on-my-system" ;;
  esac
fi
rm -rf "$scratch"

trace="$out/$(basename "$1")-$(date -u +%Y%m%dT%H%M%SZ)-$$"
echo "rr: $line" >&2
rr record -o "$trace" "$@"
rc=$?
echo "rr: recorded '$*' (exit $rc) in $trace"
echo "rr: replay with: rr replay $trace    (or non-interactively: rr replay -a $trace)"
exit $rc
