#!/usr/bin/env bash
# Lab 11: TCP in the lab's engine: handshake, close and TIME_WAIT, loss recovery (fast retransmit,
# SACK, the retransmission timer), counters. Two engines on a scripted wire, on virtual time.
#   labs/11-tcp-engine/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
walk="$(lab_bin tcp_walk)"
stk="$(lab_bin tcp_stack)"

step 'tcp_walk   (stack/tcp/connection.hpp x 2, tests/unit/tcp/harness.hpp as the wire)'
"$walk"

step 'tcp_stack   (the same engine under the stack: two stack::interfaces back to back, tcp_listener, tcp_socket)'
"$stk"
