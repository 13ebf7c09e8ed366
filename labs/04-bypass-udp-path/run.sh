#!/usr/bin/env bash
# Lab 04: the bypass UDP path end to end: sim_nic -> RX ring -> user-space stack -> UDP socket -> app.
#   labs/04-bypass-udp-path/run.sh [--out DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
out_dir lab04 "$@"
# mcast-recv prints datagrams on standard output and its summary on standard error: show the one,
# then the other (interleaved through one pipe, their order would depend on stdio buffering).
recv() {
  "$ringlab" mcast-recv "$@" > "$out/stdout.txt" 2> "$out/stderr.txt"
  cat "$out/stdout.txt" "$out/stderr.txt"
}

step ringlab demo
"$ringlab" demo

step ringlab mcast-recv --backend sim --replay traces/mcast-feed.pcap --group 239.1.1.1 --group 239.1.1.2 --port 5001 --port 5002 --quiet --out DIR/feed-sent.pcap
recv --backend sim --replay traces/mcast-feed.pcap --group 239.1.1.1 --group 239.1.1.2 --port 5001 --port 5002 --quiet --out "$out/feed-sent.pcap"

step ringlab mcast-recv --backend sim --replay traces/arp-icmp-igmp.pcap --group 239.1.1.1 --port 5001 --out DIR/control-sent.pcap
recv --backend sim --replay traces/arp-icmp-igmp.pcap --group 239.1.1.1 --port 5001 --out "$out/control-sent.pcap"

step ringlab mcast-recv --backend sim --replay traces/malformed.pcap --group 239.1.1.1 --port 5001
recv --backend sim --replay traces/malformed.pcap --group 239.1.1.1 --port 5001

# One packet's route, hop by hop. Left out: the line of CPU-time costs (wall clock), and the source
# line numbers of the "where" column (they move with every edit; file and function stay).
step 'ringlab trace replay traces/mcast-feed.pcap --packets 1   (route only, without line numbers)'
"$ringlab" trace replay traces/mcast-feed.pcap --packets 1 |
  sed -e '/^lab path cost: /d' -e 's/\(\.[ch]pp\):[0-9]* /\1 /' | sed -n '1,/=>/p'

step 'ringlab trace replay traces/malformed.pcap --packets 0   (each packet and its outcome)'
"$ringlab" trace replay traces/malformed.pcap --packets 0 | grep -E '^packet |=> '
