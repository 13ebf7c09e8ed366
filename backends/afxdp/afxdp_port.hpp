#pragma once
// An AF_XDP port: one XSK socket on one (interface, queue), its UMEM the area of the port's own
// frame_pool, and ringlab's XDP program (xdp/xsk_redirect.bpf.c) choosing what reaches the socket.
//
//   frame_pool area = UMEM ──────────────────────────────────────────────────────────────────┐
//   │ frame id i ⇔ UMEM chunk address i * frame_size; packet at + headroom (>= 256, see below) │
//   └────────────────────────────────────────────────────────────────────────────────────────┘
//      fill ring  (user → kernel): empty frames for RX        ◄─ rx_burst() tops it up from the pool
//      rx ring    (kernel → user): received frames            ─► rx_burst() lends them as frame_refs
//      tx ring    (user → kernel): frames to send             ◄─ tx_batch::commit()
//      completion (kernel → user): sent frames                ─► back to the pool (tx_reserve/rx_burst)
//
// Who owns a frame: the pool (free), the kernel (on the fill ring or the tx ring, until it comes back
// on the rx or completion ring), or the caller (lent by rx_burst until rx_release, reserved by
// tx_reserve until commit/cancel). pool().out() == kernel_held() + what the caller holds.
//
// Headroom: the kernel puts a received packet at chunk + umem frame_headroom + XDP_PACKET_HEADROOM (256),
// in copy and zero-copy mode alike, and reports that address in the rx descriptor. The port registers
// frame_headroom = pool headroom - 256, so the packet lands exactly where frame_pool::data(id) says.
// The pool's headroom must therefore be >= 256 (the default is 256).
//
// One thread drives a port (rx_burst, rx_release, tx_reserve, commit): the XSK rings are
// single-producer/single-consumer on the user side, as libxdp's inline ring functions assume.
//
// Several queues: open_queues() gives one port per queue of one interface, each with its own XSK and
// its own UMEM (its own frame_pool), all fed by one XDP program that redirects by rx_queue_index into
// its XSKMAP. One UMEM per queue rather than one shared (XDP_SHARED_UMEM): each queue is driven by its
// own lane on its own thread, and a shared UMEM would make every lane allocate and free frames in one
// pool (one lock per burst, the cross-core traffic the lanes exist to avoid) and let a frame received
// on one queue be released by another lane. The price is memory: N UMEMs, N x frames x frame_size
// locked (root passes through CAP_IPC_LOCK). See backends/README.md.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/afxdp/xdp_maps.hpp"   // xdp_verdicts, program_maps
#include "backends/pooled_port.hpp"
#include "backends/result.hpp"
#include "port/port.hpp"

struct xsk_umem;
struct xsk_socket;
struct xdp_program;

namespace ringlab::backends::afxdp {

enum class attach_mode { automatic, native, skb };     // automatic: native first, then skb (generic)
enum class bind_mode { automatic, zero_copy, copy };   // automatic: zero-copy first, then copy

struct config {
  std::string ifname;
  std::uint32_t queue = 0;                             // open_queues(): the first of the queues
  port::frame_pool_config pool{4096, 2048, 256};       // UMEM = frames * frame_size (8 MiB by default)
  std::uint32_t fill_size = 2048, comp_size = 2048, rx_size = 2048, tx_size = 2048;  // powers of two
  std::uint32_t fill_frames = 0;       // frames kept posted for RX; 0: fill_size, capped at pool frames / 2
  // Top the fill ring up when fewer are posted; 0: fill_frames less one burst (64, or half of a
  // smaller fill_frames). Whatever the mark, rx_burst tops up completely when it finds the rx ring
  // empty: the caller is about to sleep or spin, and nothing wakes it when the fill ring runs dry
  // (a drop for lack of fill frames puts nothing on the rx ring), so it goes idle with every frame posted.
  std::uint32_t fill_low_water = 0;

  // What the XDP program sends to the socket. Everything else goes to the kernel.
  std::vector<std::uint16_t> udp_ports;
  std::vector<std::uint16_t> tcp_ports;
  // TCP destination ports tcp_range_first..tcp_range_last also go to the socket (0: none): the range
  // the stack's active opens take their ephemeral ports from (stack::interface_config ephemeral_first/
  // last), since the return traffic of a connect() goes to a port no list could name ahead.
  std::uint16_t tcp_range_first = 0, tcp_range_last = 0;
  // Seeded loss in the XDP program (tc netem is missing here): of the TCP segments it would send to
  // the socket, it drops drop_ppm per million (0: none), counted as xdp_verdicts::lost. The per-CPU
  // generator starts from drop_seed, so one seed gives one drop pattern for one flow on one CPU.
  std::uint32_t drop_ppm = 0;
  std::uint64_t drop_seed = 1;
  bool all_ipv4 = false;
  bool icmp_to_xsk = false;
  // ARP to the socket (the user-space stack owns the IP address and answers ARP itself; the kernel's
  // interface must then have no address) or to the kernel (the kernel owns the address too and
  // answers ARP for both; only the chosen ports bypass it). See backends/README.md.
  bool arp_to_xsk = false;

  attach_mode attach = attach_mode::automatic;
  bind_mode bind = bind_mode::automatic;
  bool need_wakeup = true;
  // Kernel busy polling, as DPDK's net_af_xdp sets it up by default (busy_budget=64): SO_PREFER_BUSY_POLL,
  // SO_BUSY_POLL = busy_poll_usecs, SO_BUSY_POLL_BUDGET = busy_poll_budget, and a recvfrom() from
  // rx_burst whenever the rx ring is empty, which runs the device's NAPI poll on the caller's core.
  // 0: off (rx_burst makes no syscall on an empty ring in copy mode). Needs CAP_NET_ADMIN.
  std::uint32_t busy_poll_budget = 0;
  std::uint32_t busy_poll_usecs = 20;
  std::string bpf_object;              // empty: the object built with the library (or $RINGLAB_AFXDP_BPF_OBJ)
  bool detach_on_signal = true;        // SIGINT/SIGTERM/SIGHUP detach the program, then the old handler runs
  std::chrono::milliseconds busy_retry{250};   // EBUSY after a recent close: retry this long
};

// XDP_STATISTICS, as the kernel counts them for this socket.
struct xdp_stats {
  std::uint64_t rx_dropped = 0;
  std::uint64_t rx_invalid_descs = 0;
  std::uint64_t tx_invalid_descs = 0;
  std::uint64_t rx_ring_full = 0;
  std::uint64_t rx_fill_ring_empty_descs = 0;
  std::uint64_t tx_ring_empty_descs = 0;
};

// The port's own counters (user side): the four every port keeps, and AF_XDP's reasons.
struct counters : traffic_counters {
  std::uint64_t tx_ring_full = 0;        // committed frames that found no tx ring slot: freed, not sent
  std::uint64_t tx_invalid = 0;          // committed frames empty or with bytes outside their chunk: freed, not sent
  std::uint64_t tx_kick_errors = 0;      // sendto() wakeups that failed other than EAGAIN/EBUSY/ENOBUFS
  std::uint64_t completions = 0;
  std::uint64_t fill_refills = 0;        // times the fill ring was topped up
  std::uint64_t fill_low_water = 0;      // times it was found below the low-water mark
  std::uint64_t fill_frames_short = 0;   // frames a refill wanted but the pool had none (caller holds them)
  std::uint64_t fill_no_room = 0;        // frames a refill had but the fill ring had no free slot for
  std::uint64_t rx_wakeups = 0, tx_wakeups = 0;   // syscalls made because need_wakeup asked
  std::uint64_t rx_busy_polls = 0;       // recvfrom() calls made on an empty rx ring for kernel busy polling
};

class loss_program;

class port final : public pooled_port {
 public:
  // Opens the socket, loads and attaches the program. Errors name the interface, the step and what
  // to do (memlock, capabilities, a program already attached, ...).
  static result<std::unique_ptr<port>> open(const config& cfg);
  // One port per queue cfg.queue .. cfg.queue + queues - 1 of cfg.ifname, one XDP program for all of
  // them (attached once, detached with the last port). Each port is driven by one thread; different
  // ports by different threads. Packet ids stay unique across the ports (queue i numbers i+1, i+1+N, ...).
  static result<std::vector<std::unique_ptr<port>>> open_queues(const config& cfg, std::uint32_t queues);
  ~port() override;   // not copyable (pooled_port)

  // rx_release, tx_cancel and pool() are pooled_port's.
  std::size_t rx_burst(std::span<ringlab::port::frame_ref> out) noexcept override;
  ringlab::port::tx_batch tx_reserve(std::size_t n) noexcept override;
  ringlab::port::port_caps caps() const override;
  void tx_commit(std::span<ringlab::port::frame_ref> frames) noexcept override;

  // Sends what is still on the tx ring and takes back completions; returns frames still in flight.
  std::uint32_t tx_flush() noexcept;

  std::error_code statistics(xdp_stats& out) const noexcept;
  std::error_code verdicts(xdp_verdicts& out) const noexcept;   // the program's: all queues together
  const counters& stats() const noexcept { return c_; }
  std::uint32_t kernel_held() const noexcept { return rx_posted_ + tx_outstanding_; }
  int fd() const noexcept;
  int ifindex() const noexcept { return ifindex_; }
  bool zero_copy() const noexcept { return zero_copy_; }
  attach_mode attached_mode() const noexcept;
  const config& cfg() const noexcept { return cfg_; }

 private:
  friend class loss_program;
  struct program;                                     // the attached XDP program, shared by a device's queues
  port(const config& cfg, std::shared_ptr<program> prog);
  std::error_code setup(std::string& why);
  std::error_code create_socket(std::string& why);
  std::error_code set_busy_poll(std::string& why);
  void refill() noexcept;
  void reap_completions() noexcept;
  void kick_tx() noexcept;

  config cfg_;                                        // pool_ (pooled_port's) outlives the UMEM registered over it
  struct rings;                                       // the four xsk rings (libxdp structs), kept out of this header
  std::unique_ptr<rings> r_;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  std::shared_ptr<program> prog_;                     // after the socket goes, the last port detaches it
  int ifindex_ = 0;
  bool zero_copy_ = false;
  std::uint32_t fill_target_ = 0, low_water_ = 0;
  std::uint32_t rx_posted_ = 0;        // frames on the fill ring or being filled by the kernel
  std::uint32_t tx_outstanding_ = 0;   // frames on the tx ring or being sent
  counters c_;
};

// Our XDP program on an interface WITHOUT a socket, for its seeded loss only (RL_XSK_LOSS_ONLY): it
// drops drop_ppm per million of the TCP segments arriving there and passes everything else to the
// kernel. On the peer's end of a veth it makes loss on the way from our port to the peer's kernel,
// which the port's own program (on our end, it sees only what arrives) cannot. Attached in the
// network namespace of the calling thread, and detached in that same namespace when destroyed, from
// whichever thread. Uses cfg.ifname, attach, bpf_object, drop_ppm and drop_seed.
class loss_program {
 public:
  static result<std::unique_ptr<loss_program>> attach(const config& cfg);
  ~loss_program();
  loss_program(const loss_program&) = delete;
  loss_program& operator=(const loss_program&) = delete;
  std::error_code verdicts(xdp_verdicts& out) const noexcept;   // lost: the drops; pass_other: the rest

 private:
  loss_program() = default;
  std::shared_ptr<port::program> prog_;
  int netns_fd_ = -1;   // the namespace it was attached in (its ifindex means nothing elsewhere)
};

// The libxdp/libbpf warnings of the last failed step on this thread (empty if none): error messages add it.
std::string last_library_message();

}  // namespace ringlab::backends::afxdp
