#pragma once
// The fuzz target's entry: bytes as a pcap/pcapng file -> pcap_trace -> sim_nic (2 queues, small pool
// and rings, faults on) -> drain. Any input must give an error value or counted drops, never a crash,
// and every pool frame must come back (abort otherwise, so the fuzzer reports it).
#include <cstddef>
#include <cstdint>

int ringlab_fuzz_sim_nic_pcap(const std::uint8_t* data, std::size_t size);
