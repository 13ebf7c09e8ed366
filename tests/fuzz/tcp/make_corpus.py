#!/usr/bin/env python3
"""Writes the TCP fuzz target's seed corpus (tests/fuzz/tcp/corpus/): scripts for one connection that
the entry (fuzz_tcp_entry.hpp) has just accepted (peer ISS 100, ours 5000, timestamps on). Each step:
a time byte (ms), an op byte (mod 8: 0-3 segment, 4 send, 5 receive, 6 close (op 6 only), 7 abort (op 7 only); other ops of 6 and 7 idle), and for a segment a
2-byte length and the TCP segment (checksum zero: the entry parses with checksum offload)."""
import os
import struct

ACK, PSH, FIN, SYN, RST = 0x10, 0x08, 0x01, 0x02, 0x04


def seg(seq, ack, flags, payload=b'', opts=b'', win=1000):
    doff = (20 + len(opts)) // 4
    return struct.pack('!HHIIBBHHH', 40000, 80, seq, ack, doff << 4, flags, win, 0, 0) + opts + payload


def step(dt, op, s=None):
    b = bytes([dt, op])
    if s is not None:
        b += struct.pack('!H', len(s)) + s
    return b


def ts(v, e):
    return bytes([1, 1, 8, 10]) + struct.pack('!II', v, e)


SEEDS = {
    'handshake_data_fin': step(1, 0, seg(101, 5001, ACK, opts=ts(2, 1))) +
    step(1, 0, seg(101, 5001, ACK | PSH, b'hello', ts(3, 1))) + step(1, 5) +
    step(1, 0, seg(106, 5001, ACK | FIN, opts=ts(4, 1))) + step(50, 6) + step(10, 0, seg(107, 5002, ACK, opts=ts(5, 1))),
    'out_of_order_then_fill': step(1, 0, seg(101, 5001, ACK, opts=ts(2, 1))) +
    step(1, 0, seg(111, 5001, ACK, b'0123456789', ts(3, 1))) + step(1, 0, seg(101, 5001, ACK, b'abcdefghij', ts(4, 1))) +
    step(1, 5),
    'send_and_ack': step(1, 0, seg(101, 5001, ACK, opts=ts(2, 1))) + step(1, 4 + 8 * 8) +
    step(20, 0, seg(101, 5001 + 512, ACK, opts=ts(3, 1))) + step(200, 4) + step(250, 1),
    'rst_and_syn_attacks': step(1, 0, seg(101, 5001, ACK, opts=ts(2, 1))) + step(1, 0, seg(5000, 0, RST)) +
    step(1, 0, seg(150, 0, SYN)) + step(1, 0, seg(101, 0, RST)),
    'sack_blocks_options': step(1, 0, seg(101, 5001, ACK, opts=bytes([1, 1, 5, 18]) + struct.pack('!IIII', 5001, 5100, 5200, 5300))),
    'timers_only': step(1, 0, seg(101, 5001, ACK, opts=ts(2, 1))) + step(1, 4 + 8 * 30) + bytes([255, 14] * 40),   # 14: idle
}

if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
