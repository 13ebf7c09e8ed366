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
#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "port/port.hpp"

namespace ringlab::port::detail {

template <class P>
concept inner_port = port_like<std::remove_reference_t<P>>;

class inflight_batches {
 public:
  tx_batch* find(frame_id first) noexcept {
    for (auto& b : batches_)
      if (b.size() && b[0].id == first) return &b;
    return nullptr;
  }
  tx_batch& add(tx_batch&& b) {
    // Reuse an ended slot first (size() == 0 after commit or cancel).
    for (auto& x : batches_)
      if (!x.size()) { x = std::move(b); return x; }
    batches_.push_back(std::move(b));
    return batches_.back();
  }
  void cancel_all() noexcept { for (auto& b : batches_) b.cancel(); }

 private:
  std::vector<tx_batch> batches_;
};

}  // namespace ringlab::port::detail
