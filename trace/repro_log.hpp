#pragma once
// The event log a repro bundle is made of (`ringlab repro`, docs/repro.md). When the environment names
// a file, RINGLAB_REPRO_EVENTS=PATH, the process records every trace event from its start (tracing is
// switched on, and a command's enable(false) leaves it on) and appends each event that drain() hands
// out, plus at exit those nobody drained, to PATH as one fixed-size record: what identifies the event
// (packet id, hop, verdict, reason, queue) and a hash of all its deterministic fields (those
// trace::hash mixes: not the CPU, not the real clock). Same seed + same trace => the same file, byte
// for byte, on any build and any machine of the same byte order.
#include <cstdint>
#include <vector>

#include "trace/trace.hpp"

namespace ringlab::trace {

struct repro_record {
  std::uint64_t packet_id = 0;
  std::uint32_t hash = 0;      // FNV-1a (32) of packet id, t_ns, ring slot, frame, queue, hop, verdict, reason
  std::uint8_t stage = 0;      // trace::hop
  std::uint8_t v = 0;          // trace::verdict
  std::uint8_t reason = 0;     // trace::drop_reason
  std::uint8_t queue = 0;      // low byte of the queue
  friend bool operator==(const repro_record&, const repro_record&) = default;
};
static_assert(sizeof(repro_record) == 16, "the events file's record is 16 bytes, no padding");

repro_record to_repro_record(const event& e) noexcept;

// FNV-1a (64) over records, as the bundle's checkpoints are: start at repro_hash_seed.
inline constexpr std::uint64_t repro_hash_seed = 1469598103934665603ull;
std::uint64_t repro_hash(std::uint64_t h, const repro_record& r) noexcept;

inline constexpr const char* repro_events_env = "RINGLAB_REPRO_EVENTS";

namespace detail {
bool repro_active() noexcept;                      // the environment named an events file
void repro_append(const std::vector<event>& drained) noexcept;
}  // namespace detail

}  // namespace ringlab::trace
