#!/usr/bin/env bash
# Lab 06: netmap's ownership protocol (head/cur/tail, sync, NS_BUF_CHANGED), one step at a time.
#   labs/06-netmap-ownership/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
walk="$(lab_bin netmap_walk)"

step 'netmap_walk   (rings/netmap_ring.hpp: one RX ring, one TX ring, one buffer pool)'
"$walk"

# The same ring moves a whole trace: the replay's hash is the one every other ring design gives (lab 01).
step 'ringlab replay traces/mcast-feed.pcap --ring netmap --ring-size 8 --hash'
"$ringlab" replay traces/mcast-feed.pcap --ring netmap --ring-size 8 --hash | no_wall
