#pragma once
// The per-parser fuzz targets' entries: each takes untrusted bytes to one of stack/wire's parsers (and
// one takes whole frames to the stack) and checks what must hold for ANY input, aborting otherwise so
// the fuzzer reports it:
//   - no read outside the bytes (ASan in the fuzz preset; spans everywhere else);
//   - a view's parts lie inside its bytes (payload, options, records, sources);
//   - what parses round-trips: repr -> emit -> check -> parse gives the same repr, and the emitted
//     checksum verifies (the parser and the writer agree on every field they share);
//   - the stack (target `stack`): every pool frame comes back, no fragment outlives its timeout, and
//     the socket reads exactly the datagrams the stack counts as delivered.
// Each entry returns how far the input got, so the tests can check the seeds reach the parser's deep
// paths rather than stopping at the first length check.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "stack/wire/error.hpp"

namespace ringlab::fuzz {

enum class stage : std::uint8_t {
  refused_by_check,   // view::check said no (err says why)
  refused_by_parse,   // the view was fine, repr::parse said no (err says why)
  round_tripped,      // parsed, emitted, parsed again: equal
};

struct outcome {
  stage st = stage::refused_by_check;
  wire::error err = wire::error::none;
  // The stack target: what the run did (the tests check the seeds reach reassembly and delivery).
  std::uint64_t delivered = 0, reassembled = 0, fragments = 0, replies = 0;
};

// UDP and TCP checksums cover a pseudo header: for those two targets the input's first 8 bytes are the
// source and destination addresses, the rest is the datagram/segment.
outcome fuzz_ethernet(std::span<const std::byte> in) noexcept;   // + wire::ipv4_flow (sim_nic's RSS parse)
outcome fuzz_arp(std::span<const std::byte> in) noexcept;
outcome fuzz_ipv4(std::span<const std::byte> in) noexcept;       // options, fragments, set_ttl
outcome fuzz_icmp(std::span<const std::byte> in) noexcept;
outcome fuzz_igmp(std::span<const std::byte> in) noexcept;       // v1/v2/v3 queries, v3 report records
outcome fuzz_udp(std::span<const std::byte> in) noexcept;
outcome fuzz_tcp_segment(std::span<const std::byte> in) noexcept;   // header, every option
// Whole frames into a stack::interface (ARP, ICMP echo, IGMP, UDP socket, reassembly state). The
// input is a script: per frame one byte of time to advance (ms; top bit set: seconds) and a 2-byte
// length (top bit set: the device vouches for the checksums), then the frame.
outcome fuzz_stack(std::span<const std::byte> in) noexcept;

struct target {
  std::string_view name;
  outcome (*run)(std::span<const std::byte>) noexcept;
  std::size_t max_len;   // libFuzzer's -max_len for it
};
// Every target of this folder, in a fixed order (the seed tool, the tests and `./lab fuzz` use it).
std::span<const target> targets() noexcept;
const target* find_target(std::string_view name) noexcept;

}  // namespace ringlab::fuzz
