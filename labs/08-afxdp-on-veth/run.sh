#!/usr/bin/env bash
# Lab 08: AF_XDP on a veth pair: copy vs zero-copy, need_wakeup, the fill ring starved on the kernel's
# own rings; then the multicast app over AF_XDP with the kernel as the sender. Root.
#   labs/08-afxdp-on-veth/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
require netns afxdp memlock-8m
afxdp="$(lab_bin afxdp_veth)"

step 'afxdp_veth   (two namespaces, one veth pair, the AF_XDP port of backends/afxdp)'
"$afxdp"
