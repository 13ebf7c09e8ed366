#pragma once
// A test fixture port (not a mock of a real component): a frame_pool, an inject queue that rx_burst
// drains, and a captured TX list. Frames the stack commits are copied out and returned to the pool at
// once, so pool().out() counts exactly what the stack (or a test) still holds.
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "port/port.hpp"

namespace ringlab::stack::testing {

class test_port final : public port::any_port {
 public:
  explicit test_port(port::frame_pool_config cfg = {.frames = 256, .frame_size = 2048, .headroom = 256},
                     port::port_caps caps = {.name = "test_port"})
      : pool_(cfg), caps_(std::move(caps)) {}
  ~test_port() override {
    for (auto& f : rx_) pool_.free(f);
  }

  // Queues a received frame; returns false when the pool is dry.
  bool inject(std::span<const std::byte> bytes, port::rx_meta meta = {}) {
    port::frame_ref f = pool_.alloc();
    if (!f.valid() || bytes.size() > f.bytes.size()) {
      if (f.valid()) pool_.free(f);
      return false;
    }
    std::memcpy(f.bytes.data(), bytes.data(), bytes.size());
    f.bytes = f.bytes.first(bytes.size());
    if (meta.packet_id == 0) meta.packet_id = ++next_id_;
    f.meta = meta;
    rx_.push_back(f);
    return true;
  }
  bool inject(const std::vector<std::byte>& bytes, port::rx_meta meta = {}) {
    return inject(std::span<const std::byte>(bytes), meta);
  }

  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override {
    std::size_t n = 0;
    while (n < out.size() && !rx_.empty()) {
      out[n++] = rx_.front();
      rx_.pop_front();
    }
    return n;
  }
  void rx_release(std::span<const port::frame_ref> frames) noexcept override {
    released_ += frames.size();
    ++release_calls_;
    for (const auto& f : frames) released_ids.push_back(f.meta.packet_id);
    pool_.free_burst(frames);
  }
  port::tx_batch tx_reserve(std::size_t n) noexcept override {
    std::array<port::frame_ref, port::tx_batch::max_frames> got{};
    if (n > got.size()) n = got.size();
    if (n > tx_room_) n = tx_room_;
    const std::size_t k = pool_.alloc_burst({got.data(), n});
    return port::tx_batch(this, {got.data(), k});
  }
  void tx_commit(std::span<port::frame_ref> frames) noexcept override {
    for (const auto& f : frames) {
      sent.emplace_back(f.bytes.begin(), f.bytes.end());
      pool_.free(f);
    }
  }
  void tx_cancel(std::span<port::frame_ref> frames) noexcept override {
    pool_.free_burst(frames);
  }
  port::port_caps caps() const override { return caps_; }
  port::frame_pool& pool() noexcept override { return pool_; }

  std::size_t pending_rx() const noexcept { return rx_.size(); }
  std::size_t released() const noexcept { return released_; }
  std::size_t release_calls() const noexcept { return release_calls_; }   // rx_release calls
  void limit_tx(std::size_t room) noexcept { tx_room_ = room; }

  std::vector<std::vector<std::byte>> sent;   // every committed frame, in order
  std::vector<std::uint64_t> released_ids;    // packet ids of the frames rx_release took, in order

 private:
  port::frame_pool pool_;
  port::port_caps caps_;
  std::deque<port::frame_ref> rx_;
  std::uint64_t next_id_ = 0;
  std::size_t released_ = 0;
  std::size_t release_calls_ = 0;
  std::size_t tx_room_ = ~std::size_t{0};
};

}  // namespace ringlab::stack::testing
