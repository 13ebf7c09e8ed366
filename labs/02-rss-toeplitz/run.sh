#!/usr/bin/env bash
# Lab 02: RSS with the Toeplitz hash: which flow goes to which queue.
#   labs/02-rss-toeplitz/run.sh [--queues N]   (default 4)
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
queues=4
case "${1:-}" in
  --queues) queues="${2:-}"
            [[ "$queues" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --queues: '$queues' is not a queue count" >&2; exit 2; } ;;
  "") ;;
  *) echo "run.sh: unknown option '$1' (--queues N)" >&2; exit 2 ;;
esac
lab="$(dirname "${BASH_SOURCE[0]}")"

step ringlab replay traces/flows.pcap --queues 1
"$ringlab" replay traces/flows.pcap --queues 1 | no_wall
step ringlab replay traces/flows.pcap --queues "$queues"
"$ringlab" replay traces/flows.pcap --queues "$queues" | no_wall

# Every packet's route names its flow (the "packet N" line) and the queue RSS chose (the rss hop):
# one line per flow, its queue and how many of its packets went there.
step "ringlab trace replay traces/flows.pcap --queues $queues --packets 0   (flow -> queue, packets)"
"$ringlab" trace replay traces/flows.pcap --queues "$queues" --packets 0 |
  awk '/^packet [0-9]+ \(lab path\)/ {flow = $5 " " $7} $1 ~ /^[0-9]+$/ && $2 == "rss" {print flow, $3}' |
  sort | uniq -c | awk '{printf "%-20s %-15s queue %s  packets %d\n", $2, $3, $4, $1}' > "${TMPDIR:-/tmp}/ringlab-lab02.$$"
cat "${TMPDIR:-/tmp}/ringlab-lab02.$$"
echo "flows per queue:"
awk '{print $4}' "${TMPDIR:-/tmp}/ringlab-lab02.$$" | sort -n | uniq -c | awk '{printf "  queue %s: %d flows\n", $2, $1}'

step "toeplitz.py $queues   (the hash by hand, checked against sim_nic's queue for every flow)"
awk '{print $1, $2, $4}' "${TMPDIR:-/tmp}/ringlab-lab02.$$" | python3 "$lab/toeplitz.py" "$queues"
rm -f "${TMPDIR:-/tmp}/ringlab-lab02.$$"
