#!/usr/bin/env bash
# Lab 09: DPDK vdevs: net_pcap (a pcap as a NIC) and net_ring (two ports over rte_rings), then the
# same multicast app over sim_nic and over DPDK's net_pcap, datagram for datagram.
#   labs/09-dpdk-vdevs/run.sh [--out DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
out_dir lab09 "$@"
require dpdk
vdevs="$(lab_bin dpdk_vdevs)"

step dpdk_vdevs traces/mcast-feed.pcap DIR
"$vdevs" traces/mcast-feed.pcap "$out"

# The app: mcast-recv on the user-space stack, fed once by sim_nic and once by DPDK's net_pcap PMD.
# Its datagram lines (stdout) and its per-group counts must be the same; only the device differs.
app() {   # backend args...
  local b="$1"; shift
  "$ringlab" mcast-recv --backend "$b" "$@" --group 239.1.1.1 --group 239.1.1.2 --port 5001 --port 5002 \
    > "$out/$b.stdout" 2> "$out/$b.stderr"
}
step ringlab mcast-recv --backend sim --replay traces/mcast-feed.pcap --group 239.1.1.1 --group 239.1.1.2 --port 5001 --port 5002
app sim --replay traces/mcast-feed.pcap
grep -E ': [0-9]+ received|stack: |stack drops|ended by' "$out/sim.stderr" | sed -e 's/, [0-9]* frames sent (.*//'
step "ringlab mcast-recv --backend dpdk --vdev net_pcap0,rx_pcap=traces/mcast-feed.pcap --timeout 3 (same groups and ports)"
app dpdk --vdev net_pcap0,rx_pcap=traces/mcast-feed.pcap,tx_pcap="$out/app-tx.pcap" --timeout 3
grep -E ': [0-9]+ received|stack: |stack drops|ended by' "$out/dpdk.stderr" | sed -e 's/, [0-9]* frames sent (.*//'
# Per socket (group and port) the lines must be the same and in the same order. Across sockets the
# interleaving follows the device's bursts (sim_nic here steps one frame at a time; DPDK's rx_burst
# hands the stack up to 32 frames, and each socket's handler then takes its own datagrams).
step 'the datagrams each run printed (stdout), per socket, compared line for line'
for dst in 239.1.1.1:5001 239.1.1.2:5002; do
  grep -F "> $dst " "$out/sim.stdout" > "$out/sim.$dst" || true
  grep -F "> $dst " "$out/dpdk.stdout" > "$out/dpdk.$dst" || true
  if cmp -s "$out/sim.$dst" "$out/dpdk.$dst"; then
    echo "$dst: sim $(wc -l < "$out/sim.$dst") lines, dpdk $(wc -l < "$out/dpdk.$dst"): the same lines in the same order"
  else
    echo "$dst: DIFFERENT (diff $out/sim.$dst $out/dpdk.$dst)"
  fi
done
cmp -s <(sort "$out/sim.stdout") <(sort "$out/dpdk.stdout") && echo "all $(wc -l < "$out/sim.stdout") lines: the same set" ||
  echo "all lines: DIFFERENT sets"
