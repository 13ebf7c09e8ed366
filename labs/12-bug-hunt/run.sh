#!/usr/bin/env bash
# Lab 12: the hunt for the planted stack bug. One trace of fragmented datagrams (gen-trace, seeded),
# the correct stack and the planted one (ringlab_planted: this lab's program, the command line over the
# planted copy of the stack), a repro bundle recorded on the correct build and checked on the planted
# one, which names the packet and the hop where the two part.
#   labs/12-bug-hunt/run.sh [--out DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
out_dir lab12 "$@"
planted="$(lab_bin ringlab_planted)"
rm -rf "$out/good" "$out/planted-1" "$out/planted-2"

# What is left out of the checked output: the lines naming the binaries' revision, build type and
# compiler (repro check's "recorded on" / "checked on"), and a route's `where` column (source file,
# line and function of each hop: they move as the code does; README shows one).
no_build() { sed -E '/^  (recorded|checked) on /d'; }
# repro record's summary without the count of input files it copies into the bundle (a later
# `ringlab repro` adds it; the digest of the input is checked either way).
recorded() { sed -E 's/, [0-9]+ input files? in [^ ]+$//'; }
route() { sed -n '/^packet /,/^  =>/p' | sed -E 's/ +where$//; s/ +[a-z_]+\/[a-z_/]+\.(cpp|hpp)(:[0-9]+)? .*$//'; }
# trace replay --quiet, cut to the deliveries and the summary line.
totals() { grep -E '^lab +deliver |^lab path: '; }
# Runs in $out, so the bundles name frags.pcap by a relative path ("ringlab repro check good").
in_out() { (cd "$out" && "$@"); }
replay=(trace replay frags.pcap --listen 5001 --packets 0 --quiet)

step ringlab gen-trace --kind fragments --count 64 --seed 1 --out DIR/frags.pcap
"$ringlab" gen-trace --kind fragments --count 64 --seed 1 --out "$out/frags.pcap" | sed "s|$out/||"

step "ringlab ${replay[*]}   (the correct stack)"
in_out "$ringlab" "${replay[@]}" | totals
step "ringlab_planted ${replay[*]}   (the planted stack, twice)"
in_out "$planted" "${replay[@]}" | totals
in_out "$planted" "${replay[@]}" | totals

step "ringlab_planted repro record --out planted-N -- ${replay[*]}   (N = 1, 2: the same events every run)"
in_out "$planted" repro record --out planted-1 -- "${replay[@]}" | sed -n 1p | recorded
in_out "$planted" repro record --out planted-2 -- "${replay[@]}" | sed -n 1p | recorded
same() { cmp -s "$out/$1/events.bin" "$out/$2/events.bin" && echo "$1 and $2: same events.bin" || echo "$1 and $2: different events.bin"; }
same planted-1 planted-2

step "ringlab repro record --out good -- ${replay[*]}   (the correct build records)"
in_out "$ringlab" repro record --out good -- "${replay[@]}" | recorded
step 'ringlab repro check good   (the correct build: the same run)'
in_out "$ringlab" repro check good | no_build
step 'ringlab_planted repro check good   (the planted build: where does it part?)'
rc=0
in_out "$planted" repro check good | no_build || rc=$?
echo "exit $rc"

step "ringlab_planted trace replay frags.pcap --listen 5001 --filter 'ip[4:2] = 2' --packets 1   (packet 3's route)"
in_out "$planted" trace replay frags.pcap --listen 5001 --filter 'ip[4:2] = 2' --packets 1 | route
step "ringlab trace replay frags.pcap --listen 5001 --filter 'ip[4:2] = 2' --packets 1   (the same packet, correct stack)"
in_out "$ringlab" trace replay frags.pcap --listen 5001 --filter 'ip[4:2] = 2' --packets 1 | route
