#pragma once
// IPv4 fragment reassembly with bounded memory (RFC 791 section 3.2, RFC 815 holes).
//
// Each datagram being reassembled owns ONE pool frame; fragments are copied into it at their offset
// (the only copy on the receive path, and only for fragments). Bounds: at most `max_datagrams` in
// flight, at most `max_ranges` disjoint pieces each, and a datagram no longer than the frame's room.
// A fragment past any bound drops its whole datagram as fragment_overflow; overlapping fragments
// drop it too (as Linux does since 4.19, and RFC 5722 asks for IPv6), counted as fragment_overflow;
// a datagram not complete within `timeout` is dropped as fragment_timeout. The fragments' own frames
// go back to the port at once; the completed datagram's frame is handed on like a received one.
//
// Each datagram in reassembly holds one timer in the lane's timer_queue (armed by its first fragment,
// cancelled when it completes or drops); when it fires the datagram is dropped and the owner's hook
// counts the fragment_timeout. Built without a queue (the unit tests), it keeps one of its own that
// only expire(now) drives.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "port/frame_pool.hpp"
#include "trace/trace.hpp"
#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"

namespace ringlab::stack {

struct reassembler_config {
  std::size_t max_datagrams = 8;
  time_ns timeout = 30 * sec;   // Linux ipfrag_time
};

class reassembler {
 public:
  static constexpr std::size_t max_ranges = 16;
  static constexpr std::size_t max_slots = 64;

  struct key {
    std::uint32_t src = 0, dst = 0;
    std::uint16_t ident = 0;
    std::uint8_t protocol = 0;
    bool operator==(const key&) const = default;
  };

  enum class status : std::uint8_t { held, complete, dropped };

  struct outcome {
    status st = status::held;
    trace::drop_reason reason = trace::drop_reason::none;
    port::frame_ref frame;      // complete: a pool frame holding the whole payload at data()
    std::size_t length = 0;     // complete: payload length
  };

  // What the owner does when a datagram's timeout fired (it is dropped already).
  struct hooks {
    void* ctx = nullptr;
    void (*timed_out)(void* ctx, time_ns now) noexcept = nullptr;
  };

  reassembler(port::frame_pool& pool, reassembler_config cfg) noexcept;   // its own timers: expire() drives them
  reassembler(port::frame_pool& pool, reassembler_config cfg, timer_queue& timers, hooks h) noexcept;
  reassembler(const reassembler&) = delete;
  reassembler& operator=(const reassembler&) = delete;
  ~reassembler();

  // offset in bytes (fragment offset * 8); more: the MF flag. The payload is copied.
  outcome add(const key& k, std::size_t offset, bool more, std::span<const std::byte> payload,
              time_ns now) noexcept;

  // Drops every datagram whose deadline is <= now (without the hook); returns how many it dropped.
  std::size_t expire(time_ns now) noexcept;
  time_ns next_deadline() const noexcept;
  std::size_t in_flight() const noexcept;

 private:
  struct range { std::uint16_t begin, end; };
  struct slot {
    bool used = false;
    key k{};
    port::frame_ref frame;
    time_ns deadline = never;
    timer_queue::id timer;
    std::size_t total = 0;           // known once the last fragment (MF=0) arrived, else 0
    std::array<range, max_ranges> ranges{};
    std::size_t n_ranges = 0;
  };
  void drop(slot& s) noexcept;
  void forget(slot& s) noexcept;   // the slot is free again (its frame given away or freed)
  static bool complete(const slot& s) noexcept;
  static void on_timeout(void* self, std::uint64_t index, time_ns now) noexcept;

  port::frame_pool& pool_;
  reassembler_config cfg_;
  timer_queue own_timers_;   // used only when built without the lane's queue
  timer_queue& timers_;
  hooks hooks_;
  std::array<slot, max_slots> slots_{};   // the first cfg_.max_datagrams are used
  std::size_t used_ = 0;                   // so that an idle reassembler costs one compare per poll
};

}  // namespace ringlab::stack
