#pragma once
// Packet ids: what a trace event's packet_id means, in one place for every emitter and every reader.
//
//   0                      no id (a frame a port received without numbering it)
//   1 .. 2^62-1            a frame a device received: a replayed trace's replay index + 1, or a real
//                          port's counter (numbered apart per queue: backends/README.md)
//   2^62 | n               sim_nic: the n-th frame a wire delivered that carried no id of its own
//   2^63 | s << 47 | n     the n-th frame stack instance s sent (s: 1 .. 65535, n: 1 .. 2^47-1)
//
// A stack stamps its id on each frame when it takes the frame for transmit (ip_output), so the frame's
// whole route, the sender's `tx`, the NIC's `nic_tx`, the `wire`, the peer NIC's `nic_rx` ... to its
// delivery, shares one id (sim_nic keeps a wire frame's id). Why a number per stack instance rather than
// one process-wide counter: each lane's stack runs on its own core, and a shared counter would be a
// cache line every lane writes per frame. The instance number is drawn once, when the stack is made, in
// the order stacks are made: a seeded single-threaded run (sim hosts, repro bundles) makes them in the
// same order every time, so the same frames get the same ids, and two hosts or two lanes never share one.
#include <atomic>
#include <cstdint>
#include <string>

namespace ringlab::trace {

inline constexpr std::uint64_t wire_id_bit = 1ull << 62;
inline constexpr std::uint64_t tx_id_bit = 1ull << 63;
inline constexpr unsigned tx_sender_shift = 47;
inline constexpr std::uint64_t tx_count_mask = (1ull << tx_sender_shift) - 1;

inline bool is_tx_id(std::uint64_t id) noexcept { return (id & tx_id_bit) != 0; }
inline bool is_wire_id(std::uint64_t id) noexcept { return !is_tx_id(id) && (id & wire_id_bit) != 0; }
inline std::uint64_t tx_sender(std::uint64_t id) noexcept { return (id & ~tx_id_bit) >> tx_sender_shift; }
inline std::uint64_t tx_number(std::uint64_t id) noexcept { return id & tx_count_mask; }

// The ids one stack instance gives the frames it sends. Single-threaded, as the stack instance is.
class tx_ids {
 public:
  // A new sender number (process-wide, in creation order; wraps past 65535, skipping 0).
  tx_ids() noexcept : prefix_(tx_id_bit | draw_sender() << tx_sender_shift) {}
  std::uint64_t take() noexcept { return prefix_ | (++n_ & tx_count_mask); }
  std::uint64_t sender() const noexcept { return tx_sender(prefix_); }

 private:
  static std::uint64_t draw_sender() noexcept {
    static std::atomic<std::uint32_t> next{0};
    const std::uint32_t s = next.fetch_add(1, std::memory_order_relaxed) % 65535u;
    return s + 1;
  }
  std::uint64_t prefix_;
  std::uint64_t n_ = 0;
};

// A packet id for a person: "packet 7", "wire frame 3", "stack 2 frame 15".
inline std::string describe_packet(std::uint64_t id) {
  if (id == 0) return "packet - (no id)";
  if (is_tx_id(id)) return "stack " + std::to_string(tx_sender(id)) + " frame " + std::to_string(tx_number(id));
  if (is_wire_id(id)) return "wire frame " + std::to_string(id & ~wire_id_bit);
  return "packet " + std::to_string(id);
}

}  // namespace ringlab::trace
