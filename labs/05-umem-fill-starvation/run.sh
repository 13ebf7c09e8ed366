#!/usr/bin/env bash
# Lab 05: starve the frame pool (AF_XDP's fill ring) and watch the drop counter.
#   labs/05-umem-fill-starvation/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
trace=traces/mcast-feed.pcap   # 12000 frames

# On the virtual clock, replay ingests min(ring-size, 256) frames, then the consumer drains every
# queue and gives their frames back: the receiver is "late" by that many frames each time. The pool
# must hold them all; each frame beyond its size finds no free frame (rx_nombuf).
predict() {   # frames, late-by, pool -> frames dropped
  awk -v n="$1" -v b="$2" -v p="$3" 'BEGIN {
    full = int(n / b); rest = n - full * b
    d = full * (b > p ? b - p : 0) + (rest > p ? rest - p : 0); print d }'
}
row() {   # ring-size, pool-frames
  local late=$(( $1 < 256 ? $1 : 256 ))
  "$ringlab" replay "$trace" --ring umem --ring-size "$1" --pool-frames "$2" --drops 0 |
    awk -v r="$1" -v l="$late" -v p="$2" -v want="$(predict 12000 "$late" "$2")" '/^total/ {
      printf "%9s %8s %10s %10s %10s %10s  %s\n", r, l, p, $6, $5, want, ($5 == want ? "ok" : "DIFFERENT") }'
}
header() { printf "%9s %8s %10s %10s %10s %10s\n" ring-size late-by pool-frames delivered rx_nombuf predicted; }

step ringlab replay $trace --ring umem
"$ringlab" replay "$trace" --ring umem | no_wall

step "ringlab replay $trace --ring umem --ring-size 256 --pool-frames P   (P from 8192 down to 32)"
header
for p in 8192 257 256 255 224 200 128 32; do row 256 "$p"; done

step "ringlab replay $trace --ring umem --ring-size R --pool-frames 48   (the receiver late by more)"
header
for r in 16 32 64 128 256 1024; do row "$r" 48; done

step "ringlab replay $trace --ring umem --ring-size 256 --pool-frames 200 --drops 3   (which frames)"
"$ringlab" replay "$trace" --ring umem --ring-size 256 --pool-frames 200 --drops 3 | no_wall
