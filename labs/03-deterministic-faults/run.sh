#!/usr/bin/env bash
# Lab 03: deterministic faults: the same seed gives the same drops, reorders and output bytes.
#   labs/03-deterministic-faults/run.sh [--out DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
out_dir lab03 "$@"
faults=drop=0.01,dup=0.005,reorder=0.01:8,corrupt=0.002,delay=50us,jitter=10us

for run in "1 a" "1 b" "2 c"; do
  set -- $run
  step ringlab replay traces/mcast-feed.pcap --faults "$faults" --seed "$1" --out "DIR/seed$1-$2.pcap"
  "$ringlab" replay traces/mcast-feed.pcap --faults "$faults" --seed "$1" --out "$out/seed$1-$2.pcap" | no_wall
done

step 'sha256sum of the three forwarded pcaps'
(cd "$out" && sha256sum seed1-a.pcap seed1-b.pcap seed2-c.pcap)
same() { [ "$(sha256sum < "$out/$1")" = "$(sha256sum < "$out/$2")" ] && echo "$1 and $2: same bytes" || echo "$1 and $2: different bytes"; }
same seed1-a.pcap seed1-b.pcap
same seed1-a.pcap seed2-c.pcap

step 'ringlab demo --faults drop=0.02,reorder=0.05:8,dup=0.01,corrupt=0.005 --seed 7   (what the application sees)'
"$ringlab" demo --faults drop=0.02,reorder=0.05:8,dup=0.01,corrupt=0.005 --seed 7
