#include "backends/afxdp/afxdp_port.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "backends/afxdp/xdp/xsk_redirect.h"
#include "trace/clock.hpp"
#include "trace/trace.hpp"

#ifndef RINGLAB_AFXDP_BPF_OBJ_DEFAULT
#define RINGLAB_AFXDP_BPF_OBJ_DEFAULT "xsk_redirect.bpf.o"
#endif
#ifndef RINGLAB_AFXDP_BPF_OBJ_INSTALLED
#define RINGLAB_AFXDP_BPF_OBJ_INSTALLED "/usr/share/ringlab/xsk_redirect.bpf.o"
#endif

namespace ringlab::backends::afxdp {
namespace {

// Where the XDP object is: $RINGLAB_AFXDP_BPF_OBJ, else the build tree's (an uninstalled build), else
// the installed copy (cmake --install / the .deb put it in DATADIR/ringlab), found at the configured
// prefix or next to the running binary (../share/ringlab: an install moved with --prefix or a package).
// `tried` lists the places looked at, for the error when none opens.
std::string find_bpf_object(std::string& tried) {
  if (const char* env = std::getenv("RINGLAB_AFXDP_BPF_OBJ")) return env;
  std::vector<std::string> places{RINGLAB_AFXDP_BPF_OBJ_DEFAULT, RINGLAB_AFXDP_BPF_OBJ_INSTALLED};
  std::array<char, 4096> exe{};
  if (const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1); n > 0) {
    std::string dir(exe.data(), std::size_t(n));
    dir.resize(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
    places.push_back(dir + "/../share/ringlab/xsk_redirect.bpf.o");
  }
  for (const std::string& p : places) {
    if (::access(p.c_str(), R_OK) == 0) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  return places.front();
}

using ringlab::port::frame_id;
using ringlab::port::frame_ref;

constexpr std::uint32_t xdp_packet_headroom = 256;   // XDP_PACKET_HEADROOM in the kernel
constexpr std::size_t chunk = ringlab::port::tx_batch::max_frames;

// --- libxdp / libbpf messages: kept (not printed) so a failed step can quote them ---------------
thread_local std::string last_msg;

int keep_message(const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (!line.empty()) last_msg = line;
  if (std::getenv("RINGLAB_AFXDP_VERBOSE")) std::fprintf(stderr, "%s\n", line.c_str());
  return 0;
}
int libxdp_print(enum libxdp_print_level, const char* fmt, va_list ap) { return keep_message(fmt, ap); }
int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  return keep_message(fmt, ap);
}

void install_printers() {
  static const bool once = [] {
    libxdp_set_print(libxdp_print);
    libbpf_set_print(libbpf_print);
    return true;
  }();
  (void)once;
}

// --- capabilities and memlock, for error messages that say what to do -----------------------------
bool has_cap(int cap) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(SYS_capget, &h, d) != 0) return false;
  return (d[cap / 32].effective >> (cap % 32)) & 1u;
}

std::string mib(std::uint64_t bytes) {
  if (bytes == RLIM_INFINITY) return "unlimited";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return b;
}

std::string memlock_advice(std::uint64_t need) {
  rlimit rl{};
  getrlimit(RLIMIT_MEMLOCK, &rl);
  std::string s = "; UMEM is " + mib(need) + ", RLIMIT_MEMLOCK is " + mib(rl.rlim_cur) + " (hard " +
                  mib(rl.rlim_max) + ")";
  if (has_cap(CAP_IPC_LOCK)) s += ", CAP_IPC_LOCK present";
  else s += ", no CAP_IPC_LOCK: raise the limit (ulimit -l, systemd LimitMEMLOCK=) or use fewer frames";
  return s;
}

// Raises the soft memlock limit towards the hard one when the UMEM would not fit (no privilege needed).
void raise_memlock(std::uint64_t need) {
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return;
  rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
  setrlimit(RLIMIT_MEMLOCK, &rl);
}

std::string err_text(int e) {
  std::string s = std::strerror(e);
  return s;
}

std::string with_library(std::string s) {
  if (!last_msg.empty()) s += " [libxdp: " + last_msg + "]";
  return s;
}

// --- detach on signals ----------------------------------------------------------------------------
// A fixed table the handler can walk without locks or allocation. bpf_xdp_detach() makes netlink
// syscalls on a stack buffer; not on POSIX's async-signal-safe list, but it touches no heap state.
struct attached_slot {
  std::atomic<int> ifindex{0};
  std::atomic<unsigned> flags{0};
};
std::array<attached_slot, 16> attached_table;
std::array<struct sigaction, 3> previous_actions;
constexpr std::array<int, 3> caught_signals{SIGINT, SIGTERM, SIGHUP};

void on_signal(int sig) {
  for (auto& s : attached_table) {
    const int ifx = s.ifindex.exchange(0, std::memory_order_acq_rel);   // once per slot, even if signals nest
    if (ifx) bpf_xdp_detach(ifx, s.flags.load(std::memory_order_relaxed), nullptr);
  }
  for (std::size_t i = 0; i < caught_signals.size(); ++i) {
    if (caught_signals[i] != sig) continue;
    const auto& prev = previous_actions[i];
    if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && !(prev.sa_flags & SA_SIGINFO)) {
      prev.sa_handler(sig);
      return;
    }
    if (prev.sa_handler == SIG_IGN) return;
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

void install_signal_handlers() {
  static const bool once = [] {
    for (std::size_t i = 0; i < caught_signals.size(); ++i) {
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      sigaction(caught_signals[i], &sa, &previous_actions[i]);
    }
    return true;
  }();
  (void)once;
}

int remember_attached(int ifindex, unsigned flags) {
  for (std::size_t i = 0; i < attached_table.size(); ++i) {
    int expected = 0;
    attached_table[i].flags.store(flags, std::memory_order_relaxed);
    if (attached_table[i].ifindex.compare_exchange_strong(expected, ifindex, std::memory_order_acq_rel)) return int(i);
  }
  return -1;
}

void forget_attached(int ifindex) {
  for (auto& s : attached_table) {
    int expected = ifindex;
    s.ifindex.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
}

const char* mode_name(attach_mode m) {
  switch (m) {
    case attach_mode::native: return "native";
    case attach_mode::skb: return "skb";
    default: return "auto";
  }
}

}  // namespace

std::string last_library_message() { return last_msg; }

struct port::rings {
  xsk_ring_prod fq{};   // fill
  xsk_ring_cons cq{};   // completion
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
};

// Our XDP program on one interface: attached once for all of a device's queues, configured through
// its maps, detached when the last port of the device lets go of it.
struct port::program {
  xdp_program* prog = nullptr;
  int ifindex = 0;
  attach_mode attached = attach_mode::automatic;   // the mode the program really got
  program_maps maps;                               // its maps, found from the loaded program
  bool remembered = false;   // in the signal path's table (config::detach_on_signal)

  program() = default;
  program(const program&) = delete;
  program& operator=(const program&) = delete;
  ~program() {
    if (!prog) return;
    if (remembered) forget_attached(ifindex);
    xdp_program__detach(prog, ifindex, attached == attach_mode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
    xdp_program__close(prog);
  }

  std::error_code attach(const config& cfg, std::string& why);
  std::error_code write_config(const config& cfg, std::string& why, std::uint32_t extra_flags = 0);
};

port::port(const config& cfg, std::shared_ptr<program> prog)
    : cfg_(cfg), r_(std::make_unique<rings>()), prog_(std::move(prog)), ifindex_(prog_->ifindex) {}

result<std::unique_ptr<port>> port::open(const config& cfg) {
  auto ports = open_queues(cfg, 1);
  if (!ports) return ports.error();
  return std::move(ports.value().front());
}

result<std::vector<std::unique_ptr<port>>> port::open_queues(const config& cfg, std::uint32_t queues) {
  const std::string who = "afxdp: " + cfg.ifname + ": ";
  if (cfg.ifname.empty()) return make_error(EINVAL, "afxdp: no interface name given");
  if (queues == 0 || queues > 64)
    return make_error(EINVAL, who + std::to_string(queues) + " queues asked for: 1 to 64 (the XSKMAP's size)");
  if (cfg.pool.headroom < xdp_packet_headroom)
    return make_error(EINVAL, who + "frame_pool headroom " + std::to_string(cfg.pool.headroom) +
                                  " < 256: the kernel puts XDP_PACKET_HEADROOM (256 B) in front of every packet");
  for (std::uint32_t s : {cfg.fill_size, cfg.comp_size, cfg.rx_size, cfg.tx_size})
    if (!std::has_single_bit(s)) return make_error(EINVAL, who + "ring sizes must be powers of two");
  install_printers();
  last_msg.clear();
  auto prog = std::make_shared<program>();
  prog->ifindex = static_cast<int>(if_nametoindex(cfg.ifname.c_str()));
  if (!prog->ifindex) return make_error(ENODEV, who + "no such interface in this network namespace");
  std::string why;
  if (auto ec = prog->attach(cfg, why)) return open_error{ec, who + why};
  if (auto ec = prog->write_config(cfg, why)) return open_error{ec, who + why};
  raise_memlock(std::uint64_t{cfg.pool.frames} * cfg.pool.frame_size * queues);   // every queue's UMEM
  std::vector<std::unique_ptr<port>> ports;
  for (std::uint32_t q = 0; q < queues; ++q) {
    config c = cfg;
    c.queue = cfg.queue + q;
    std::unique_ptr<port> p(new port(c, prog));
    p->number_packets(q + 1, queues);
    if (auto ec = p->setup(why)) return open_error{ec, who + why};
    ports.push_back(std::move(p));
  }
  return ports;
}

// Open, attach (native first, then generic).
std::error_code port::program::attach(const config& cfg, std::string& why) {
  auto fail = [&](int e, std::string text) {
    why = std::move(text);
    return std::error_code(e, std::generic_category());
  };
  setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);   // one program per interface here; no freplace dispatcher
  std::string tried;
  const std::string path = cfg.bpf_object.empty() ? find_bpf_object(tried) : cfg.bpf_object;
  prog = xdp_program__open_file(path.c_str(), "xdp", nullptr);
  if (long e = libxdp_get_error(prog); e || !prog) {
    prog = nullptr;
    return fail(int(e ? -e : ENOENT), with_library("XDP program " + path + ": open failed: " + err_text(int(e ? -e : ENOENT)) +
                                                   (tried.empty() ? "" : " (looked in " + tried + "; set $RINGLAB_AFXDP_BPF_OBJ)")));
  }
  std::vector<attach_mode> modes;
  if (cfg.attach != attach_mode::skb) modes.push_back(attach_mode::native);
  if (cfg.attach != attach_mode::native) modes.push_back(attach_mode::skb);
  int attach_err = 0;
  std::string attach_notes;
  for (attach_mode m : modes) {
    last_msg.clear();
    const int rc = xdp_program__attach(prog, ifindex, m == attach_mode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
    if (rc == 0) {
      attached = m;
      attach_err = 0;
      break;
    }
    attach_err = -rc;
    attach_notes += std::string(attach_notes.empty() ? "" : "; ") + mode_name(m) + ": " + err_text(attach_err);
    if (!last_msg.empty()) attach_notes += " [" + last_msg + "]";
    if (attach_err == EPERM || attach_err == EEXIST || attach_err == EBUSY) break;   // skb mode would fail alike
  }
  if (attach_err) {
    xdp_program__close(prog);
    prog = nullptr;
    std::string t = "XDP attach failed: " + attach_notes;
    if (attach_err == EPERM) t += " (need CAP_NET_ADMIN and CAP_BPF or CAP_SYS_ADMIN)";
    if (attach_err == EEXIST || attach_err == EBUSY)
      t += " (another XDP program is attached: see `ip link show dev " + cfg.ifname + "`, remove it with `ip link set dev " +
           cfg.ifname + " xdp off`)";
    if (attach_err == ERANGE || attach_err == EINVAL)
      t += " (native XDP on veth needs MTU <= 3506 on both ends, and as many rx queues as the peer has tx queues)";
    return fail(attach_err, t);
  }
  const unsigned xdp_flags = attached == attach_mode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  // The signal path detaches by ifindex in the process's namespace: only programs that asked for it
  // (a loss_program lives in another namespace, where its ifindex names something else).
  if (cfg.detach_on_signal) {
    install_signal_handlers();
    remember_attached(ifindex, xdp_flags);
    remembered = true;
  }
  return {};
}

std::error_code port::setup(std::string& why) {
  last_msg.clear();
  auto fail = [&](int e, std::string text) {
    why = std::move(text);
    return std::error_code(e, std::generic_category());
  };

  try {
    pool_ = std::make_unique<ringlab::port::frame_pool>(cfg_.pool);
  } catch (const std::exception& e) {
    return fail(EINVAL, std::string("frame pool: ") + e.what());
  }

  // 1. UMEM over the pool's area (one per queue: see the header).
  const auto area = pool_->area();
  raise_memlock(area.size());
  xsk_umem_config ucfg{};
  ucfg.fill_size = cfg_.fill_size;
  ucfg.comp_size = cfg_.comp_size;
  ucfg.frame_size = cfg_.pool.frame_size;
  ucfg.frame_headroom = cfg_.pool.headroom - xdp_packet_headroom;
  ucfg.flags = 0;
  if (int rc = xsk_umem__create(&umem_, area.data(), area.size(), &r_->fq, &r_->cq, &ucfg); rc != 0) {
    umem_ = nullptr;
    const int e = -rc;
    std::string t = "UMEM registration failed: " + err_text(e);
    if (e == ENOBUFS || e == ENOMEM || e == EPERM) t += memlock_advice(area.size());
    if (e == EPERM && !has_cap(CAP_NET_RAW)) t += " (need CAP_NET_RAW for AF_XDP sockets)";
    return fail(e, with_library(t));
  }

  // 2. The socket on this queue (zero-copy if the driver can, else copy; EBUSY right after a close:
  // retry), entered into the program's XSKMAP at its queue index.
  if (auto ec = create_socket(why)) return ec;
  if (int rc = xsk_socket__update_xskmap(xsk_, prog_->maps.xsks_map()); rc != 0)
    return fail(-rc, "XSKMAP update (queue " + std::to_string(cfg_.queue) + ") failed: " + err_text(-rc));
  if (cfg_.busy_poll_budget)
    if (auto ec = set_busy_poll(why)) return ec;

  // 3. Post frames for RX. The low-water mark sits one burst below the target: a refill costs one pool
  // lock and one producer store per burst, and the ring stays within a burst of full, so a receiver
  // that stalls (descheduled, or busy elsewhere) has the whole depth to absorb the gap, not half of it.
  fill_target_ = cfg_.fill_frames ? cfg_.fill_frames : std::min(cfg_.fill_size, cfg_.pool.frames / 2);
  fill_target_ = std::min(fill_target_, cfg_.fill_size);
  low_water_ = cfg_.fill_low_water ? std::min(cfg_.fill_low_water, fill_target_)
                                   : fill_target_ - std::min<std::uint32_t>(chunk, fill_target_ / 2);
  refill();
  return {};
}

std::error_code port::set_busy_poll(std::string& why) {
  const int fd = xsk_socket__fd(xsk_);
  const int prefer = 1, usecs = static_cast<int>(cfg_.busy_poll_usecs), budget = static_cast<int>(cfg_.busy_poll_budget);
  const struct {
    int opt;
    const int* v;
    const char* name;
  } opts[] = {{SO_PREFER_BUSY_POLL, &prefer, "SO_PREFER_BUSY_POLL"},
              {SO_BUSY_POLL, &usecs, "SO_BUSY_POLL"},
              {SO_BUSY_POLL_BUDGET, &budget, "SO_BUSY_POLL_BUDGET"}};
  for (const auto& o : opts) {
    if (setsockopt(fd, SOL_SOCKET, o.opt, o.v, sizeof(int)) != 0) {
      const int e = errno;
      why = std::string("busy polling: setsockopt ") + o.name + " failed: " + err_text(e) +
            (e == EPERM ? " (need CAP_NET_ADMIN)" : "");
      return std::error_code(e, std::generic_category());
    }
  }
  return {};
}

std::error_code port::program::write_config(const config& cfg_, std::string& why, std::uint32_t extra_flags) {
  // The maps as the kernel has them (the same lookup dpdk::port makes for net_af_xdp's xdp_prog=).
  auto m = program_maps::of_program(xdp_program__fd(prog));
  if (!m) {
    why = m.error().reason;
    return m.error().code;
  }
  maps = std::move(*m);
  return maps.write(cfg_, why, extra_flags);
}

std::error_code port::create_socket(std::string& why) {
  std::vector<bool> tries;   // true: zero-copy
  if (cfg_.bind != bind_mode::copy) tries.push_back(true);
  if (cfg_.bind != bind_mode::zero_copy) tries.push_back(false);
  std::string notes;
  int err = 0;
  for (bool zc : tries) {
    xsk_socket_config scfg{};
    scfg.rx_size = cfg_.rx_size;
    scfg.tx_size = cfg_.tx_size;
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    scfg.xdp_flags = 0;
    scfg.bind_flags = static_cast<std::uint16_t>((zc ? XDP_ZEROCOPY : XDP_COPY) | (cfg_.need_wakeup ? XDP_USE_NEED_WAKEUP : 0));
    const auto deadline = std::chrono::steady_clock::now() + cfg_.busy_retry;
    for (;;) {
      last_msg.clear();
      const int rc = xsk_socket__create(&xsk_, cfg_.ifname.c_str(), cfg_.queue, umem_, &r_->rx, &r_->tx, &scfg);
      if (rc == 0) {
        zero_copy_ = zc;
        return {};
      }
      xsk_ = nullptr;
      err = -rc;
      if (err == EBUSY && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));   // the old socket's queue is still being released
        continue;
      }
      break;
    }
    notes += std::string(notes.empty() ? "" : "; ") + (zc ? "zero-copy: " : "copy: ") + err_text(err);
    if (zc) {
      // A failed bind leaves rings set up on the UMEM's fd: start the copy attempt from a fresh UMEM.
      xsk_umem__delete(umem_);
      umem_ = nullptr;
      xsk_umem_config ucfg{cfg_.fill_size, cfg_.comp_size, cfg_.pool.frame_size, cfg_.pool.headroom - xdp_packet_headroom, 0};
      const auto area = pool_->area();
      if (int rc = xsk_umem__create(&umem_, area.data(), area.size(), &r_->fq, &r_->cq, &ucfg); rc != 0) {
        umem_ = nullptr;
        why = "UMEM re-registration failed: " + err_text(-rc) + memlock_advice(area.size());
        return std::error_code(-rc, std::generic_category());
      }
    }
  }
  why = "AF_XDP socket on queue " + std::to_string(cfg_.queue) + " failed: " + notes;
  if (err == EPERM) why += " (need CAP_NET_RAW)";
  if (err == EINVAL) why += " (does the interface have that queue? `ethtool -l " + cfg_.ifname + "`; a veth has the queues it was made with: numrxqueues N numtxqueues N)";
  if (err == EBUSY) why += " (another AF_XDP socket is bound to that queue)";
  why = with_library(why);
  return std::error_code(err, std::generic_category());
}

port::~port() {
  if (xsk_) xsk_socket__delete(xsk_);
  if (umem_) xsk_umem__delete(umem_);
  // prog_ goes next (the last port of a device detaches the program), pool_ last (pooled_port, the
  // base): the kernel no longer references its area.
}

attach_mode port::attached_mode() const noexcept { return prog_->attached; }

int port::fd() const noexcept { return xsk_ ? xsk_socket__fd(xsk_) : -1; }

// Refill policy: keep fill_target_ frames posted; top up when fewer than low_water_ remain (by default
// one burst below the target) and whenever rx_burst finds the rx ring empty.
void port::refill() noexcept {
  if (rx_posted_ >= fill_target_) return;
  std::uint32_t want = fill_target_ - rx_posted_;
  ++c_.fill_refills;
  std::array<frame_ref, chunk> tmp;
  while (want) {
    const std::size_t ask = std::min<std::size_t>(want, chunk);
    const std::size_t got = pool_->alloc_burst({tmp.data(), ask});
    if (got == 0) break;
    std::uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&r_->fq, static_cast<std::uint32_t>(got), &idx) != got) {
      // Not expected while fill_target_ <= fill_size: the kernel publishes its fill-ring consumer
      // index with every rx flush, before we can see (and subtract) the frames it took.
      pool_->free_burst({tmp.data(), got});
      c_.fill_no_room += want;
      return;
    }
    for (std::size_t i = 0; i < got; ++i)
      *xsk_ring_prod__fill_addr(&r_->fq, idx + static_cast<std::uint32_t>(i)) = std::uint64_t{tmp[i].id} * cfg_.pool.frame_size;
    xsk_ring_prod__submit(&r_->fq, static_cast<std::uint32_t>(got));
    rx_posted_ += static_cast<std::uint32_t>(got);
    want -= static_cast<std::uint32_t>(got);
    if (got < ask) break;
  }
  c_.fill_frames_short += want;
}

std::size_t port::rx_burst(std::span<frame_ref> out) noexcept {
  const bool low = rx_posted_ < low_water_;
  if (low) {
    ++c_.fill_low_water;
    refill();
  }
  if (tx_outstanding_) reap_completions();
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&r_->rx, static_cast<std::uint32_t>(out.size()), &idx);
  if (n == 0) {
    // Idle: go to sleep (or spin) with every frame posted. A drop for lack of fill frames wakes nobody.
    if (!low) refill();
    if (cfg_.busy_poll_budget) {
      ++c_.rx_busy_polls;
      recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    } else if (cfg_.need_wakeup && xsk_ring_prod__needs_wakeup(&r_->fq)) {
      ++c_.rx_wakeups;
      recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
    return 0;
  }
  std::byte* base = pool_->area().data();
  const std::uint64_t t = trace::monotonic_ns();
  const bool tracing = trace::enabled();
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&r_->rx, idx + i);
    const std::uint64_t addr = xsk_umem__extract_addr(d->addr) + xsk_umem__extract_offset(d->addr);
    const frame_id id = static_cast<frame_id>(addr / cfg_.pool.frame_size);
    frame_ref& f = out[i];
    f.id = id;
    f.bytes = {base + addr, d->len};
    f.meta = {};
    f.meta.packet_id = next_packet_id();
    f.meta.t_ns = t;
    f.meta.ring_slot = (idx + i) & r_->rx.mask;
    f.meta.queue = static_cast<std::uint16_t>(cfg_.queue);
    c_.rx_bytes += d->len;
    if (tracing)
      trace::emit({.packet_id = f.meta.packet_id, .t_ns = t, .ring_slot = f.meta.ring_slot, .frame = id,
                   .queue = f.meta.queue, .stage = trace::hop::nic_rx});
  }
  xsk_ring_cons__release(&r_->rx, n);
  rx_posted_ -= n;
  c_.rx_packets += n;
  return n;
}

ringlab::port::tx_batch port::tx_reserve(std::size_t n) noexcept {
  if (tx_outstanding_) reap_completions();
  // Never hand out more than the tx ring can take, so a commit finds room.
  n = std::min({n, ringlab::port::tx_batch::max_frames, std::size_t{cfg_.tx_size - std::min(tx_outstanding_, cfg_.tx_size)}});
  std::array<frame_ref, chunk> tmp;
  const std::size_t got = pool_->alloc_burst({tmp.data(), n});
  return ringlab::port::tx_batch(this, {tmp.data(), got});
}

void port::tx_commit(std::span<frame_ref> frames) noexcept {
  // A frame whose bytes left its chunk would be an invalid descriptor: the kernel drops it without a
  // completion, and the frame would be lost to the pool. Refuse it here, count it, give it back.
  std::size_t ok = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (pool_->owns(frames[i]) && !frames[i].bytes.empty()) {
      if (ok != i) std::swap(frames[ok], frames[i]);
      ++ok;
    }
  }
  if (ok < frames.size()) {
    c_.tx_invalid += frames.size() - ok;
    pool_->free_burst(frames.subspan(ok));
    frames = frames.first(ok);
  }
  const auto k = static_cast<std::uint32_t>(frames.size());
  if (k == 0) return;
  std::uint32_t idx = 0;
  std::uint32_t got = xsk_ring_prod__reserve(&r_->tx, k, &idx);   // all or nothing
  if (got == 0) {
    got = std::min(xsk_prod_nb_free(&r_->tx, k), k);   // as many as fit (nb_free may exceed k only when k fit)
    if (got) got = xsk_ring_prod__reserve(&r_->tx, got, &idx);
  }
  std::byte* base = pool_->area().data();
  const bool tracing = trace::enabled();
  for (std::uint32_t i = 0; i < got; ++i) {
    xdp_desc* d = xsk_ring_prod__tx_desc(&r_->tx, idx + i);
    d->addr = static_cast<std::uint64_t>(frames[i].bytes.data() - base);
    d->len = static_cast<std::uint32_t>(frames[i].bytes.size());
    d->options = 0;
    c_.tx_bytes += d->len;
    if (tracing)
      trace::emit({.packet_id = frames[i].meta.packet_id, .t_ns = trace::monotonic_ns(), .ring_slot = (idx + i) & r_->tx.mask,
                   .frame = frames[i].id, .queue = static_cast<std::uint16_t>(cfg_.queue), .stage = trace::hop::nic_tx,
                   .v = trace::verdict::tx});
  }
  if (got) {
    xsk_ring_prod__submit(&r_->tx, got);
    tx_outstanding_ += got;
    c_.tx_packets += got;
  }
  if (got < k) {
    c_.tx_ring_full += k - got;
    pool_->free_burst(frames.subspan(got));
  }
  kick_tx();
  reap_completions();
}

void port::kick_tx() noexcept {
  if (!tx_outstanding_) return;
  if (cfg_.need_wakeup && !xsk_ring_prod__needs_wakeup(&r_->tx)) return;
  ++c_.tx_wakeups;
  // Copy mode sends at most 32 frames per call and answers EAGAIN while more wait: call again.
  for (int i = 0; i < 64; ++i) {
    if (sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    if (errno == EAGAIN) continue;
    if (errno != EBUSY && errno != ENOBUFS) ++c_.tx_kick_errors;
    return;
  }
}

void port::reap_completions() noexcept {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&r_->cq, cfg_.comp_size, &idx);
  if (!n) return;
  std::array<frame_id, chunk> ids;
  std::uint32_t k = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    ids[k++] = static_cast<frame_id>(xsk_umem__extract_addr(*xsk_ring_cons__comp_addr(&r_->cq, idx + i)) / cfg_.pool.frame_size);
    if (k == ids.size()) {
      pool_->free_ids({ids.data(), k});
      k = 0;
    }
  }
  if (k) pool_->free_ids({ids.data(), k});
  xsk_ring_cons__release(&r_->cq, n);
  tx_outstanding_ -= n;
  c_.completions += n;
}

std::uint32_t port::tx_flush() noexcept {
  for (int i = 0; i < 200 && tx_outstanding_; ++i) {
    kick_tx();
    reap_completions();
    if (tx_outstanding_) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return tx_outstanding_;
}

ringlab::port::port_caps port::caps() const {
  ringlab::port::port_caps c;
  c.name = "afxdp:" + cfg_.ifname + "/" + std::to_string(cfg_.queue) + " (" + mode_name(prog_->attached) + ", " +
           (zero_copy_ ? "zero-copy" : "copy") + ")";
  std::uint32_t mtu = 1500;
  if (int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); s >= 0) {
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg_.ifname.c_str());
    if (ioctl(s, SIOCGIFMTU, &ifr) == 0) mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);
    close(s);
  }
  c.mtu = frame_mtu(mtu);
  c.rx_queues = 1;
  c.tx_queues = 1;
  c.wait_fd = fd();
  return c;
}

std::error_code port::statistics(xdp_stats& out) const noexcept {
  xdp_statistics st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return {errno, std::generic_category()};
  out.rx_dropped = st.rx_dropped;
  out.rx_invalid_descs = st.rx_invalid_descs;
  out.tx_invalid_descs = st.tx_invalid_descs;
  out.rx_ring_full = st.rx_ring_full;
  out.rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
  out.tx_ring_empty_descs = st.tx_ring_empty_descs;
  return {};
}

std::error_code port::verdicts(xdp_verdicts& out) const noexcept { return prog_->maps.verdicts(out); }

result<std::unique_ptr<loss_program>> loss_program::attach(const config& cfg) {
  const std::string who = "afxdp loss: " + cfg.ifname + ": ";
  install_printers();
  last_msg.clear();
  std::unique_ptr<loss_program> l(new loss_program);
  l->netns_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (l->netns_fd_ < 0) return make_error(errno, who + "cannot open this thread's network namespace: " + err_text(errno));
  config c = cfg;
  c.detach_on_signal = false;   // the signal path detaches by ifindex in the process's namespace, not this one
  c.udp_ports.clear();
  c.tcp_ports.clear();
  c.tcp_range_first = c.tcp_range_last = 0;
  c.all_ipv4 = c.icmp_to_xsk = c.arp_to_xsk = false;
  auto prog = std::make_shared<port::program>();
  prog->ifindex = static_cast<int>(if_nametoindex(c.ifname.c_str()));
  if (!prog->ifindex) return make_error(ENODEV, who + "no such interface in this network namespace");
  std::string why;
  if (auto ec = prog->attach(c, why)) return open_error{ec, who + why};
  // Attached: from here the destructor detaches it (in netns_fd_), on failure too.
  l->prog_ = std::move(prog);
  if (auto ec = l->prog_->write_config(c, why, RL_XSK_LOSS_ONLY)) return open_error{ec, who + why};
  return l;
}

loss_program::~loss_program() {
  if (netns_fd_ < 0) return;
  const int here = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const bool moved = here >= 0 && ::setns(netns_fd_, CLONE_NEWNET) == 0;
  // Detaching goes by ifindex, which means something only in the namespace it was attached in: where
  // that namespace cannot be entered, leave the program to go with its interface.
  if (moved) prog_.reset();
  else new std::shared_ptr<port::program>(std::move(prog_));   // NOLINT: left on purpose, see above
  if (moved && ::setns(here, CLONE_NEWNET) != 0) std::abort();   // a thread left in the wrong namespace is worse
  if (here >= 0) ::close(here);
  ::close(netns_fd_);
}

std::error_code loss_program::verdicts(xdp_verdicts& out) const noexcept { return prog_->maps.verdicts(out); }

}  // namespace ringlab::backends::afxdp
