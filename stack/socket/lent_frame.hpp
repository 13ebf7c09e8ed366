#pragma once
// A received datagram lent to its reader without a copy: the pool frame it arrived in, where its
// payload sits inside that frame, and who sent it.
//
// Ownership rule (the one rule of zero-copy receive): the frame belongs to whoever holds the
// lent_frame. It is move-only; release() — or the destructor — gives the frame back through its
// interface's frame_releaser (the one release rule), which returns it to the port (rx_release) or,
// for a frame the stack allocated itself (a reassembled or looped-back datagram), to the pool.
// Release on the thread that polls the interface; a lent_frame must not outlive its interface.
#include <cstddef>
#include <span>
#include <utility>

#include "port/frame_ref.hpp"
#include "stack/iface/frame_releaser.hpp"
#include "stack/socket/endpoint.hpp"

namespace ringlab::stack {

// What a socket's receive queue holds for one datagram.
struct datagram {
  port::frame_ref frame;
  bool from_port = true;                // false: a frame the stack allocated from the pool itself
  endpoint source;
  wire::ipv4_addr destination;          // our address, a broadcast or a multicast group
  std::span<const std::byte> payload;   // inside frame.bytes
};

class lent_frame {
 public:
  lent_frame() noexcept = default;
  lent_frame(frame_releaser* owner, const datagram& d) noexcept : owner_(owner), d_(d) {}
  lent_frame(lent_frame&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), d_(o.d_) {}
  lent_frame& operator=(lent_frame&& o) noexcept {
    if (this != &o) {
      release();
      owner_ = std::exchange(o.owner_, nullptr);
      d_ = o.d_;
    }
    return *this;
  }
  lent_frame(const lent_frame&) = delete;
  lent_frame& operator=(const lent_frame&) = delete;
  ~lent_frame() { release(); }

  explicit operator bool() const noexcept { return owner_ != nullptr; }
  std::span<const std::byte> payload() const noexcept { return d_.payload; }
  const endpoint& source() const noexcept { return d_.source; }
  wire::ipv4_addr destination() const noexcept { return d_.destination; }
  const port::frame_ref& frame() const noexcept { return d_.frame; }

  // Gives the frame back now (idempotent).
  void release() noexcept {
    if (owner_) std::exchange(owner_, nullptr)->give_back(d_.frame, d_.from_port);
  }

 private:
  frame_releaser* owner_ = nullptr;
  datagram d_;
};

}  // namespace ringlab::stack
