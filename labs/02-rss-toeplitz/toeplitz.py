#!/usr/bin/env python3
"""Lab 02: the Toeplitz hash by hand, to check the NIC's choice of queue.

Reads lines "SRC:SPORT DST:DPORT QUEUE" (one per flow, the queue sim_nic chose) on standard input,
computes the Microsoft RSS Toeplitz hash of (src ip, dst ip, src port, dst port) with the standard key,
looks the queue up in a RETA of 128 entries filled 0, 1, .., N-1, 0, 1, .. (entry i = i % N), and prints
each flow with its hash and both queues. Exit 1 when any flow's queue disagrees.
"""
import ipaddress
import sys

KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                    "6a42b73bbeac01fa")


def toeplitz(key: bytes, data: bytes) -> int:
    # For each set input bit (msb first), XOR in the 32 key bits that start at that bit's position.
    k = int.from_bytes(key, "big")
    kbits = len(key) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] >> (7 - i % 8) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xFFFFFFFF
    return h


def main() -> int:
    queues = int(sys.argv[1])
    bad = 0
    for line in sys.stdin:
        src, dst, q = line.split()
        (sip, sport), (dip, dport) = src.rsplit(":", 1), dst.rsplit(":", 1)
        data = (ipaddress.IPv4Address(sip).packed + ipaddress.IPv4Address(dip).packed
                + int(sport).to_bytes(2, "big") + int(dport).to_bytes(2, "big"))
        h = toeplitz(KEY, data)
        mine = (h & 127) % queues
        ok = mine == int(q)
        bad += not ok
        print(f"{src:<20} {dst:<15} hash 0x{h:08x}  reta[{h & 127:3}] -> {mine}  sim_nic {q}{'' if ok else '  MISMATCH'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
