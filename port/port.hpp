#pragma once
// The device seam. A port moves bursts of frames between a device (simulated NIC, AF_XDP socket,
// DPDK ethdev, a decorator around any of those) and the stack:
//
//   rx_burst(out)      -> up to out.size() received frames, lent to the caller
//   rx_release(frames) -> the caller gives received frames back (they return to the device's pool)
//   tx_reserve(n)      -> a tx_batch of up to n empty frames; fill them, commit(k) sends the first k,
//                         the rest go back to the pool when the batch ends
//   caps()             -> mtu, queues, checksum offloads
//
// Two forms of the same contract: the `port_like` concept, for decorators and code templated over a
// device, and `any_port`, a virtual interface chosen at run time (a backend by name). The virtual call
// is paid once per burst, as DPDK pays its ethdev function pointers.
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "port/frame_pool.hpp"
#include "port/frame_ref.hpp"

namespace ringlab::port {

struct port_caps {
  std::string name;                 // "sim_nic", "afxdp:veth0/0", "dpdk:net_pcap0", ...
  std::uint32_t mtu = 1500;         // largest L3 packet; frames are mtu + 14 (+4 with a VLAN tag)
  std::uint16_t rx_queues = 1;
  std::uint16_t tx_queues = 1;
  bool rx_ip_csum = false;          // the device checks IPv4 header checksums (rx_meta flags say the result)
  bool rx_l4_csum = false;
  bool tx_ip_csum = false;          // the device fills checksums on transmit
  bool tx_l4_csum = false;
  int wait_fd = -1;                 // an fd that turns readable when frames arrive, or -1 (busy-poll only)
};

// Where a tx_batch sends its committed frames, and gives back the rest.
class tx_sink {
 public:
  virtual void tx_commit(std::span<frame_ref> frames) noexcept = 0;   // takes ownership of the frames
  virtual void tx_cancel(std::span<frame_ref> frames) noexcept = 0;   // frames go back unsent
 protected:
  ~tx_sink() = default;
};

// Frames reserved for transmit. Each frame's bytes span its whole room; shrink bytes to the frame's
// length before commit. Move-only; ending a batch cancels whatever was not committed.
//
// The room for max_frames refs is left uninitialised and only the n in use are ever written or
// copied: a reserve of one or two frames (TCP's usual) used to zero all 64 (3.5 KiB) twice, in the
// port's local array and in the batch, and copy them, ~730 instructions a frame in callgrind. A port
// fills the batch in place with the (sink, n, fill) constructor; the batch is returned as a prvalue,
// so it is built once, in the caller's object.
class tx_batch {
 public:
  static constexpr std::size_t max_frames = 64;

  tx_batch() noexcept {}
  tx_batch(tx_sink* sink, std::span<const frame_ref> frames) noexcept : sink_(sink) { copy_in(frames); }
  // fill(std::span<frame_ref> room) writes up to room.size() (<= max_frames) frames at the start of
  // room and returns how many it wrote; room's frames are raw storage until fill writes them.
  template <class Fill>
    requires std::is_invocable_r_v<std::size_t, Fill, std::span<frame_ref>>
  tx_batch(tx_sink* sink, std::size_t n, Fill&& fill) noexcept : sink_(sink) {
    const std::size_t k = std::forward<Fill>(fill)(std::span<frame_ref>{frames_, n < max_frames ? n : max_frames});
    n_ = k < max_frames ? k : max_frames;
  }
  tx_batch(tx_batch&& o) noexcept : sink_(o.sink_) {
    copy_in({o.frames_, o.n_});
    o.n_ = 0;
  }
  tx_batch& operator=(tx_batch&& o) noexcept {
    if (this != &o) {
      cancel();
      sink_ = o.sink_;
      copy_in({o.frames_, o.n_});
      o.n_ = 0;
    }
    return *this;
  }
  ~tx_batch() { cancel(); }

  std::span<frame_ref> frames() noexcept { return {frames_, n_}; }
  std::size_t size() const noexcept { return n_; }
  frame_ref& operator[](std::size_t i) noexcept { return frames_[i]; }

  // Sends frames [0, k) and cancels [k, size()).
  void commit(std::size_t k) noexcept {
    if (k > n_) k = n_;
    if (k) sink_->tx_commit({frames_, k});
    if (n_ > k) sink_->tx_cancel({frames_ + k, n_ - k});
    n_ = 0;
  }
  void cancel() noexcept {
    if (n_) sink_->tx_cancel({frames_, n_});
    n_ = 0;
  }

 private:
  static_assert(std::is_trivially_copyable_v<frame_ref> && std::is_trivially_destructible_v<frame_ref>);
  // Copies the first min(size, max_frames) refs; memcpy starts the lifetime of the refs it writes
  // (frame_ref is an implicit-lifetime aggregate).
  void copy_in(std::span<const frame_ref> f) noexcept {
    n_ = f.size() < max_frames ? f.size() : max_frames;
    if (n_) std::memcpy(static_cast<void*>(frames_), f.data(), n_ * sizeof(frame_ref));
  }

  tx_sink* sink_ = nullptr;
  std::size_t n_ = 0;
  union {   // uninitialised room: a union member is not constructed by the batch's constructors
    frame_ref frames_[max_frames];
  };
};

template <class P>
concept port_like = requires(P& p, std::span<frame_ref> out, std::span<const frame_ref> in, std::size_t n) {
  { p.rx_burst(out) } -> std::same_as<std::size_t>;
  { p.rx_release(in) } -> std::same_as<void>;
  { p.tx_reserve(n) } -> std::same_as<tx_batch>;
  { p.caps() } -> std::convertible_to<port_caps>;
  { p.pool() } -> std::same_as<frame_pool&>;
};

// The run-time form. Implementations: sim_nic's queue ports, backends, and erased<P> for any port_like.
class any_port : public tx_sink {
 public:
  virtual ~any_port() = default;
  virtual std::size_t rx_burst(std::span<frame_ref> out) noexcept = 0;
  virtual void rx_release(std::span<const frame_ref> frames) noexcept = 0;
  virtual tx_batch tx_reserve(std::size_t n) noexcept = 0;
  virtual port_caps caps() const = 0;
  virtual frame_pool& pool() noexcept = 0;
  // Frames the stack makes itself (loop-back copies), taken and given back on the lane's thread:
  // through the queue's lane cache (frame_pool::cache) where the port keeps one, else the pool.
  virtual frame_ref alloc_frame() noexcept { return pool().alloc(); }
  virtual void free_frame(const frame_ref& f) noexcept { pool().free(f); }
};
static_assert(port_like<any_port>);

// Wraps a concrete port_like (a decorator stack, say) as an any_port.
template <port_like P>
class erased final : public any_port {
 public:
  template <class... A>
  explicit erased(A&&... a) : p_(std::forward<A>(a)...) {}
  std::size_t rx_burst(std::span<frame_ref> out) noexcept override { return p_.rx_burst(out); }
  void rx_release(std::span<const frame_ref> f) noexcept override { p_.rx_release(f); }
  tx_batch tx_reserve(std::size_t n) noexcept override { return p_.tx_reserve(n); }
  port_caps caps() const override { return p_.caps(); }
  frame_pool& pool() noexcept override { return p_.pool(); }
  void tx_commit(std::span<frame_ref>) noexcept override {}   // batches go to p_'s own sink
  void tx_cancel(std::span<frame_ref>) noexcept override {}
  P& inner() noexcept { return p_; }

 private:
  P p_;
};

}  // namespace ringlab::port
