#pragma once
// The TCP fuzz target's entry: the input is a script for one established tcp::connection. Each step is
// one byte of time (0..255 ms to advance, firing due timers), one byte of what to do, then for a
// segment a 2-byte length and that many bytes parsed by wire::tcp::view/repr (checksum skipped, as if
// offloaded) and handed to on_segment; ops (mod 8): 0-3 segment, 4 send, 5 receive, 6 close (op 6 only),
// 7 abort (op 7 only), other 6s and 7s idle. Any input must leave the engine in a consistent state
// (SND.UNA <= SND.NXT, bytes readable within the buffer, no deadline in the past after on_timer), or
// the entry aborts so the fuzzer reports it.
#include <cstddef>
#include <cstdint>

#include "stack/tcp/connection.hpp"

// What a script did (the tests check the seeds reach what they were written for).
struct ringlab_fuzz_tcp_result {
  ringlab::tcp::state final_state = ringlab::tcp::state::closed;
  ringlab::tcp::close_reason reason = ringlab::tcp::close_reason::none;
  std::size_t bytes_read = 0;
  std::size_t segments_out = 0;
  ringlab::tcp::connection_counters counters;
};
ringlab_fuzz_tcp_result ringlab_fuzz_tcp_run(const std::uint8_t* data, std::size_t size);
int ringlab_fuzz_tcp(const std::uint8_t* data, std::size_t size);
