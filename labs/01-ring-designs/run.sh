#!/usr/bin/env bash
# Lab 01: the ring designs, and one trace through each of them with the same result.
#   labs/01-ring-designs/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

step ringlab rings
"$ringlab" rings
names=$("$ringlab" rings | awk 'NR > 1 {print $1}')

step 'ringlab rings --check NAME   (each design, a short round trip)'
for r in $names; do "$ringlab" rings --check "$r"; done

step 'ringlab replay traces/mcast-feed.pcap --queues 2 --ring NAME --hash   (total line and hash)'
for r in $names; do
  "$ringlab" replay traces/mcast-feed.pcap --queues 2 --ring "$r" --hash |
    awk -v r="$r" '/^total/ {t = $0} /^frames hash/ {printf "%-11s %s   %s\n", r, t, $0}'
done
