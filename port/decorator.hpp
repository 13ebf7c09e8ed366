#pragma once
// What the port decorators (traced_port, faulty_port, pcap_tap) share: holding the inner port (by
// value, or by reference when P is a reference type such as any_port&), and intercepting transmit.
//
// Transmit interception: a decorator's tx_reserve(n) takes an inner batch and hands out an outer batch
// of the same frames whose sink is the decorator. When the outer batch commits k frames, the decorator
// sees them (writes them to a pcap, counts them, or applies faults), rewrites the inner batch's slots
// with the frames to send (a permutation of the same frame ids, so none leaks), and commits the inner
// batch; the inner batch cancels its remaining slots back to the pool. Several batches may be in
// flight; they are told apart by their first frame id (ids are unique among frames out of the pool).
//
// Finding the inner batch is O(1), never a search: a parallel array indexed by frame id (the pool's
// ids are 0..frames-1) holds the slot of the batch that frame opened, and ended slots go on a free
// list. A stale entry (the frame opened a batch that has since ended and its slot was reused) is told
// apart by the slot's first frame id, so entries never need clearing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "port/port.hpp"

namespace ringlab::port::detail {

template <class P>
concept inner_port = port_like<std::remove_reference_t<P>>;

class inflight_batches {
 public:
  // pool_frames: the pool's frame count (every frame id is below it).
  explicit inflight_batches(std::size_t pool_frames) : slot_of_(pool_frames, no_slot) {}

  // The in-flight inner batch whose first frame is `first`, or nullptr (an outer batch's tail being
  // cancelled after its head committed, or a frame that opened no batch).
  tx_batch* find(frame_id first) noexcept {
    if (first >= slot_of_.size()) return nullptr;
    const std::uint32_t s = slot_of_[first];
    if (s == no_slot) return nullptr;
    tx_batch& b = batches_[s];
    return b.size() && b[0].id == first ? &b : nullptr;
  }
  // Keeps an inner batch in flight; the reference is valid until the next add().
  tx_batch& add(tx_batch&& b) {
    if (!b.size()) {   // nothing to map: an empty batch never reaches a sink
      empty_ = std::move(b);
      return empty_;
    }
    if (b[0].id >= slot_of_.size()) slot_of_.resize(std::size_t{b[0].id} + 1, no_slot);   // a port beyond its pool's count
    std::uint32_t s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
      batches_[s] = std::move(b);
    } else {
      s = static_cast<std::uint32_t>(batches_.size());
      batches_.push_back(std::move(b));
      free_.reserve(batches_.size());   // ended() then never allocates
    }
    slot_of_[batches_[s][0].id] = s;
    return batches_[s];
  }
  // `b` (from find) was committed or cancelled: its slot is free again.
  void ended(tx_batch* b) noexcept {
    free_.push_back(static_cast<std::uint32_t>(b - batches_.data()));
  }
  void cancel_all() noexcept { for (auto& b : batches_) b.cancel(); }

 private:
  static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
  std::vector<std::uint32_t> slot_of_;   // frame id -> slot of the batch it opened
  std::vector<tx_batch> batches_;
  std::vector<std::uint32_t> free_;
  tx_batch empty_;
};

}  // namespace ringlab::port::detail
