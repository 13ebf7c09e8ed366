#pragma once
// Packet ids: what a trace event's packet_id means, in one place for every emitter and every reader.
//
//   0                      no id (a frame a port received without numbering it)
//   1 .. 2^62-1            a frame a device received: a replayed trace's replay index + 1, or a real
//                          port's counter (numbered apart per queue: backends/README.md)
//   2^62 | n               sim_nic: the n-th frame a wire delivered that carried no id of its own
//   2^63 | s << 39 | n     the n-th frame stack s sent (s: a 24-bit tag of the stack, n: 1 .. 2^39-1)
//
// A stack stamps its id on each frame when it takes the frame for transmit (ip_output), so the frame's
// whole route, the sender's `tx`, the NIC's `nic_tx`, the `wire`, the peer NIC's `nic_rx` ... to its
// delivery, shares one id (sim_nic keeps a wire frame's id). The stack's tag is a hash of what tells
// stacks apart (its MAC and IPv4 address, and its port's name, which names the queue: two lanes of
// one host differ there), not a counter: the same stack gets the same tag in every run and every
// process, so a seeded run gives the same ids twice in one process too (the tests that compare two
// runs), and two hosts or two lanes meet only by a 24-bit hash collision (~k^2 / 2^25 for k stacks).
// Why per stack rather than one process-wide counter: each lane's stack runs on its own core, and a
// shared counter would be a cache line every lane writes per frame.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ringlab::trace {

inline constexpr std::uint64_t wire_id_bit = 1ull << 62;
inline constexpr std::uint64_t tx_id_bit = 1ull << 63;
inline constexpr unsigned tx_sender_shift = 39;
inline constexpr std::uint64_t tx_sender_mask = 0xffffff;
inline constexpr std::uint64_t tx_count_mask = (1ull << tx_sender_shift) - 1;

inline bool is_tx_id(std::uint64_t id) noexcept { return (id & tx_id_bit) != 0; }
inline bool is_wire_id(std::uint64_t id) noexcept { return !is_tx_id(id) && (id & wire_id_bit) != 0; }
inline std::uint64_t tx_sender(std::uint64_t id) noexcept { return (id >> tx_sender_shift) & tx_sender_mask; }
inline std::uint64_t tx_number(std::uint64_t id) noexcept { return id & tx_count_mask; }

// The ids one stack gives the frames it sends. Single-threaded, as the stack is.
class tx_ids {
 public:
  // tag: what tells this stack apart (tx_tag below); folded to 24 bits.
  explicit tx_ids(std::uint64_t tag) noexcept
      : prefix_(tx_id_bit | ((tag ^ tag >> 24 ^ tag >> 48) & tx_sender_mask) << tx_sender_shift) {}
  std::uint64_t take() noexcept { return prefix_ | (++n_ & tx_count_mask); }
  std::uint64_t sender() const noexcept { return tx_sender(prefix_); }

 private:
  std::uint64_t prefix_;
  std::uint64_t n_ = 0;
};

// FNV-1a (64) over a stack's distinguishing bytes, fed piece by piece: tx_tag(h, bytes...).
inline std::uint64_t tx_tag(std::uint64_t h, std::string_view bytes) noexcept {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}
inline constexpr std::uint64_t tx_tag_seed = 1469598103934665603ull;

// A packet id for a person: "packet 7", "wire frame 3", "stack 88a346 frame 15" (the stack's tag in hex).
inline std::string describe_packet(std::uint64_t id) {
  if (id == 0) return "packet - (no id)";
  if (is_tx_id(id)) {
    char tag[8];
    std::snprintf(tag, sizeof tag, "%06llx", static_cast<unsigned long long>(tx_sender(id)));
    return "stack " + std::string(tag) + " frame " + std::to_string(tx_number(id));
  }
  if (is_wire_id(id)) return "wire frame " + std::to_string(id & ~wire_id_bit);
  return "packet " + std::to_string(id);
}

}  // namespace ringlab::trace
