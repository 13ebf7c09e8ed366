#pragma once
// The event log a repro bundle is made of (`ringlab repro`, docs/repro.md). When the environment names
// a file, RINGLAB_REPRO_EVENTS=PATH, the process records every trace event from its start (tracing is
// switched on, and a command's enable(false) leaves it on) and writes each event to PATH as it comes,
// not kept for the command (a command that never drains holds none: memory stays flat whatever the
// trace's size), as one fixed-size record: what identifies the event
// (packet id, hop, verdict, reason, queue) and a hash of all its deterministic fields (those
// trace::hash mixes: not the CPU, not the real clock). Same seed + same trace => the same file, byte
// for byte, on any build and any machine of the same byte order.
//
// The file's order is drain()'s: by (t_ns, emit order) within a window that a drain() ends, as when
// the log was what drain() handed out. Events are not emitted in time order (a ring's dequeue is
// stamped with the frame's arrival, after later frames arrived), so they wait in a sorting window of
// at most repro_window events (32 bytes each): when it is full the older half is written, sorted,
// and the newer half waits for what comes next. The order is the full sort's as long as no event
// comes more than repro_window / 2 events after its time (sim_nic's rings hold far fewer); one that
// does is counted and written where it came (said on stderr at exit). Either way the order is a
// function of the events alone: the same run gives the same file.
#include <cstdint>
#include <cstddef>

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

inline constexpr std::size_t repro_window = std::size_t{1} << 17;

namespace detail {
bool repro_active() noexcept;                      // the environment named an events file
void repro_log_event(const event& e, std::uint64_t seq) noexcept;   // trace::detail::record's
void repro_flush() noexcept;                       // drain()'s: writes every waiting event, in order
}  // namespace detail

}  // namespace ringlab::trace
