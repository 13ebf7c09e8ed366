#pragma once
// Two ports joined back to back in memory over ONE frame pool, for the stack-level TCP rows: a frame
// one port commits is the other's next received frame (no copy, as if a NIC's DMA had written it),
// with a per-port packet id. No offloads: each stack computes and verifies every checksum itself.
// Nothing is lost; a receiving side that does not poll lets frames wait (bounded by the pool).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "port/port.hpp"

namespace ringlab::bench::tcp {

class mem_port final : public port::any_port {
 public:
  mem_port(port::frame_pool& pool, std::string name) : pool_(pool), ring_(pool.config().frames) {
    caps_.name = std::move(name);
  }
  void connect(mem_port& peer) noexcept { peer_ = &peer; }

  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override {
    std::size_t n = 0;
    for (; n < out.size() && head_ != tail_; ++n) out[n] = ring_[head_++ % ring_.size()];
    return n;
  }
  void rx_release(std::span<const port::frame_ref> frames) noexcept override { pool_.free_burst(frames); }
  port::tx_batch tx_reserve(std::size_t n) noexcept override {
    std::array<port::frame_ref, port::tx_batch::max_frames> got{};
    const std::size_t k = pool_.alloc_burst({got.data(), std::min(n, got.size())});
    return port::tx_batch(this, {got.data(), k});
  }
  void tx_commit(std::span<port::frame_ref> frames) noexcept override {
    for (auto& f : frames) {
      f.meta = {};
      f.meta.packet_id = ++peer_->next_id_;
      peer_->ring_[peer_->tail_++ % peer_->ring_.size()] = f;   // the pool bounds what is in flight
      ++tx_frames_;
    }
  }
  void tx_cancel(std::span<port::frame_ref> frames) noexcept override { pool_.free_burst(frames); }
  port::port_caps caps() const override { return caps_; }
  port::frame_pool& pool() noexcept override { return pool_; }

  std::size_t pending_rx() const noexcept { return tail_ - head_; }
  std::uint64_t tx_frames() const noexcept { return tx_frames_; }

 private:
  port::frame_pool& pool_;
  port::port_caps caps_;
  mem_port* peer_ = nullptr;
  std::vector<port::frame_ref> ring_;   // as many slots as the pool has frames: never overrun
  std::size_t head_ = 0, tail_ = 0;
  std::uint64_t next_id_ = 0, tx_frames_ = 0;
};

}  // namespace ringlab::bench::tcp
