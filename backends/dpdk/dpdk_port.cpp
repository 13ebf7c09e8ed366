#include "backends/dpdk/dpdk_port.hpp"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "backends/dpdk/eal.hpp"
#ifdef RINGLAB_DPDK_WITH_XDP
#include "backends/afxdp/afxdp_port.hpp"   // afxdp::config, the settings program_maps::write reads
#include "backends/afxdp/xdp_maps.hpp"
#endif
#include "trace/clock.hpp"
#include "trace/trace.hpp"

namespace ringlab::backends::dpdk {
namespace {

using ringlab::port::frame_ref;
constexpr std::size_t burst = ringlab::port::tx_batch::max_frames;

std::error_code errc(int e) { return std::error_code(e < 0 ? -e : e, std::generic_category()); }

// net_af_xdp needs an AF_XDP socket, which the kernel gives only with CAP_NET_RAW. Asked first, so
// that a user without it reads that, once, and not the PMD's retries blaming another socket.
std::string af_xdp_privilege_problem() {
  const int fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ::close(fd);
    return {};
  }
  if (errno != EPERM && errno != EACCES) return {};   // e.g. no AF_XDP in this kernel: the PMD says so
  return std::string("no privileges for AF_XDP sockets (socket(AF_XDP): ") + std::strerror(errno) +
         "): run as root or with CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF";
}

// net_af_xdp's interface: "iface=NAME" in the devargs ("" when none).
std::string iface_of(const std::string& devargs) {
  const auto at = devargs.find("iface=");
  if (at == std::string::npos) return {};
  return devargs.substr(at + 6, devargs.find(',', at) - (at + 6));
}

// The kernel's IFF_PROMISC of net_af_xdp's interface; nullopt when unknown. The PMD sets the flag on
// the interface and never clears it: we restore what we found.
std::optional<bool> kernel_promiscuous(const std::string& devargs) {
  const std::string name = iface_of(devargs);
  ifreq r{};
  if (name.empty() || name.size() >= sizeof r.ifr_name) return std::nullopt;
  std::memcpy(r.ifr_name, name.data(), name.size());
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const bool ok = ::ioctl(fd, SIOCGIFFLAGS, &r) == 0;
  ::close(fd);
  if (!ok) return std::nullopt;
  return (r.ifr_flags & IFF_PROMISC) != 0;
}

}  // namespace

struct port::ethdev {
  config cfg;
  std::uint16_t queues = 1;
  std::uint16_t port_id = 0;
  std::string name;
  std::vector<rte_mempool*> mps;       // one mbuf pool per queue
  bool created_vdev = false, started = false, configured = false;
  bool restore_promiscuous = false;    // we turned promiscuous mode on: off again at close
  bool rx_setup_failed = false;        // open_queues() retries this step (net_af_xdp's EBUSY window) from a fresh vdev
  std::uint32_t mtu = 1500;
#ifdef RINGLAB_DPDK_WITH_XDP
  afxdp::program_maps xdp_maps;        // config::xdp: the maps of the program the PMD attached
#endif

  ethdev(const config& c, std::uint16_t n, std::string nm) : cfg(c), queues(n), name(std::move(nm)) {}
  ethdev(const ethdev&) = delete;
  ethdev& operator=(const ethdev&) = delete;
  ~ethdev() {
    if (restore_promiscuous) rte_eth_promiscuous_disable(port_id);
    if (started) rte_eth_dev_stop(port_id);
    if (configured || started) rte_eth_dev_close(port_id);
    if (created_vdev) rte_vdev_uninit(name.c_str());
    for (rte_mempool* mp : mps) rte_mempool_free(mp);
    cfg.keep_alive.reset();
  }
  std::error_code setup(std::string& why);
  std::error_code configure_xdp(std::string& why);
};

result<std::unique_ptr<port>> port::open(const config& cfg) {
  auto ports = open_queues(cfg, 1);
  if (!ports) return ports.error();
  return std::move(ports.value().front());
}

// The interface's combined channel count (ETHTOOL_GCHANNELS), 0 when it reports none. DPDK 22.11's
// net_af_xdp allows queue_count up to this and takes a device without combined channels (a veth has
// separate rx and tx channels) as one queue.
static int combined_channels(const std::string& devargs) {
  const std::string name = iface_of(devargs);
  ifreq r{};
  if (name.empty() || name.size() >= sizeof r.ifr_name) return 0;
  std::memcpy(r.ifr_name, name.data(), name.size());
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  r.ifr_data = reinterpret_cast<char*>(&ch);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  const bool ok = ::ioctl(fd, SIOCETHTOOL, &r) == 0;
  ::close(fd);
  return ok ? static_cast<int>(ch.combined_count) : 0;
}

result<std::vector<std::unique_ptr<port>>> port::open_queues(const config& cfg, std::uint16_t queues) {
  const std::string name = cfg.device.substr(0, cfg.device.find(','));
  const std::string who = "dpdk: " + (name.empty() ? std::string("?") : name) + ": ";
  if (name.empty()) return make_error(EINVAL, "dpdk: no device given (a vdev such as net_pcap0,rx_pcap=x.pcap)");
  if (queues == 0) return make_error(EINVAL, who + "0 queues asked for");
  const bool af_xdp = name.rfind("net_af_xdp", 0) == 0;
  if (cfg.xdp) {
    // Checked before the EAL starts: what the maps would be written into must be ringlab's program,
    // attached once for the device.
    if (!af_xdp)
      return make_error(EINVAL, who + "config::xdp (ringlab's XDP program: seeded loss, ARP) needs net_af_xdp with "
                                      "xdp_prog= that program; " + name + " has no XDP program");
    if (cfg.device.find("xdp_prog=") == std::string::npos)
      return make_error(EINVAL, who + "config::xdp needs xdp_prog= ringlab's program (xsk_redirect_ipv4.bpf.o or "
                                      "xsk_redirect.bpf.o) in the devargs: without it the PMD loads libxdp's default "
                                      "program, which has no loss or configuration maps");
#ifndef RINGLAB_DPDK_WITH_XDP
    return make_error(ENOTSUP, who + "config::xdp: this build has no AF_XDP backend (libxdp-dev, libbpf-dev, clang) "
                                     "to find and write the program's maps");
#endif
  }
  if (af_xdp)
    if (auto p = af_xdp_privilege_problem(); !p.empty()) return make_error(EPERM, who + p);
  std::string why;
  if (auto ec = eal_init(cfg.eal_args, why)) return open_error{ec, "dpdk: " + why};

  // Which ethdevs: one with N queue pairs, or (net_af_xdp on an interface without N combined
  // channels, such as a veth) one single-queue vdev per queue, "NAMEqI,...,start_queue=I".
  std::vector<std::pair<config, std::uint16_t>> devs;   // config, queue pairs
  const bool args_name_queues = cfg.device.find("queue_count=") != std::string::npos ||
                                cfg.device.find("start_queue=") != std::string::npos;
  if (af_xdp && queues > 1 && !args_name_queues && combined_channels(cfg.device) < queues) {
    if (cfg.device.find("xdp_prog=") != std::string::npos)
      return make_error(EINVAL, who + "one vdev per queue here (the interface has fewer than " + std::to_string(queues) +
                                    " combined channels), and DPDK 22.11's net_af_xdp attaches xdp_prog= once per vdev: "
                                    "the second would replace the first. Leave xdp_prog= out (libxdp's default program "
                                    "is shared by the queues' sockets)");
    const std::string args = cfg.device.substr(name.size());
    for (std::uint16_t q = 0; q < queues; ++q) {
      config c = cfg;
      c.device = name + "q" + std::to_string(q) + args + ",start_queue=" + std::to_string(q) + ",queue_count=1";
      devs.emplace_back(c, 1);
    }
  } else {
    config c = cfg;
    if (af_xdp && queues > 1 && !args_name_queues) c.device += ",queue_count=" + std::to_string(queues);
    devs.emplace_back(c, queues);
  }

  std::vector<std::unique_ptr<port>> ports;
  std::uint16_t label = 0;
  for (const auto& [c, n] : devs) {
    const std::string dev_name = c.device.substr(0, c.device.find(','));
    // net_af_xdp binds its AF_XDP socket in rx queue setup; within ~50 ms of a previous socket on that
    // queue closing, the kernel answers EBUSY (the PMD reports EINVAL). A second rx_queue_setup on the
    // same half-made queue does not recover (the PMD's UMEM keeps the first attempt's fill frames and
    // the next reserve fails): retry from nothing, a new vdev each time, for up to 500 ms.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    std::shared_ptr<ethdev> dev;
    for (;;) {
      dev = std::make_shared<ethdev>(c, n, dev_name);
      const auto ec = dev->setup(why);
      if (!ec) break;
      const bool retry = af_xdp && dev->rx_setup_failed && dev->created_vdev && std::chrono::steady_clock::now() < deadline;
      if (!retry) return open_error{ec, who + why};
      dev.reset();   // closes the ethdev, removes the vdev, frees the mbuf pools
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (std::uint16_t q = 0; q < n; ++q, ++label) {
      std::unique_ptr<port> p(new port(dev, q, label));
      p->number_packets(label + 1u, queues);
      try {
        p->pool_ = std::make_unique<ringlab::port::frame_pool>(cfg.pool);
      } catch (const std::exception& e) {
        return make_error(EINVAL, who + "frame pool: " + e.what());
      }
      ports.push_back(std::move(p));
    }
  }
  return ports;
}

port::port(std::shared_ptr<ethdev> dev, std::uint16_t queue, std::uint16_t label)
    : dev_(std::move(dev)), queue_(queue), label_(label), port_id_(dev_->port_id), mp_(dev_->mps[queue]) {}

std::uint16_t port::port_id() const noexcept { return port_id_; }
const std::string& port::name() const noexcept { return dev_->name; }

std::error_code port::ethdev::setup(std::string& why) {
  const bool af_xdp = name.rfind("net_af_xdp", 0) == 0;
  const auto kernel_promisc = af_xdp ? kernel_promiscuous(cfg.device) : std::nullopt;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    const auto comma = cfg.device.find(',');
    const std::string args = comma == std::string::npos ? "" : cfg.device.substr(comma + 1);
    if (int rc = rte_vdev_init(name.c_str(), args.c_str()); rc != 0) {
      why = "vdev init failed: " + std::string(rte_strerror(rc < 0 ? -rc : rc)) +
            " (is the driver linked? check the devargs; net_af_xdp needs the interface up and CAP_NET_ADMIN" +
            (queues > 1 ? ", and queue_count=" + std::to_string(queues) + " queues on it" : std::string()) + ")";
      return errc(rc ? rc : EINVAL);
    }
    created_vdev = true;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
      why = "vdev created but no ethdev of that name";
      return errc(ENODEV);
    }
  }
  for (std::uint16_t q = 0; q < queues; ++q) {
    const std::string mp_name = "rl_mb_" + std::to_string(port_id) + "_" + std::to_string(q);
    rte_mempool* mp = rte_pktmbuf_pool_create(mp_name.c_str(), cfg.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (!mp) {
      why = "mbuf pool (" + std::to_string(cfg.mbufs) + " mbufs, queue " + std::to_string(q) + ") failed: " +
            rte_strerror(rte_errno) + " (EAL -m too small?)";
      return errc(rte_errno ? rte_errno : ENOMEM);
    }
    mps.push_back(mp);
  }
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port_id, &info) == 0 && (info.max_rx_queues < queues || info.max_tx_queues < queues)) {
    why = std::to_string(queues) + " queues asked for, the device has " + std::to_string(info.max_rx_queues) + " rx / " +
          std::to_string(info.max_tx_queues) + " tx" + (af_xdp ? " (net_af_xdp: queue_count= in the devargs)" : "");
    return errc(EINVAL);
  }
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(port_id, queues, queues, &conf); rc < 0) {
    why = std::string("configure (") + std::to_string(queues) + " queues) failed: " + rte_strerror(-rc);
    return errc(rc);
  }
  configured = true;
  std::uint16_t nrx = cfg.rx_desc, ntx = cfg.tx_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nrx, &ntx);
  const int sock = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = sock < 0 ? 0u : static_cast<unsigned>(sock);
  for (std::uint16_t q = 0; q < queues; ++q) {
    // net_af_xdp binds queue q's AF_XDP socket here (open_queues() retries a failure from a fresh vdev).
    if (const int rc = rte_eth_rx_queue_setup(port_id, q, nrx, socket_id, nullptr, mps[q]); rc < 0) {
      rx_setup_failed = true;
      why = "rx queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc) +
            (af_xdp ? " (net_af_xdp: is another AF_XDP socket or XDP program on that interface and queue?)" : "");
      return errc(rc);
    }
    if (int rc = rte_eth_tx_queue_setup(port_id, q, ntx, socket_id, nullptr); rc < 0) {
      why = "tx queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc);
      return errc(rc);
    }
  }
  if (int rc = rte_eth_dev_start(port_id); rc < 0) {
    why = std::string("start failed: ") + rte_strerror(-rc);
    return errc(rc);
  }
  started = true;
  if (cfg.promiscuous) {
    // What to restore at close: net_af_xdp changes the kernel interface's flag, so the kernel's
    // (read before the start, which already clears it); other PMDs keep the state in the ethdev.
    const bool before = kernel_promisc ? *kernel_promisc : rte_eth_promiscuous_get(port_id) == 1;
    rte_eth_promiscuous_enable(port_id);   // not every PMD can; harmless when not
    restore_promiscuous = !before && rte_eth_promiscuous_get(port_id) == 1;
  }
  std::uint16_t m = 0;
  if (rte_eth_dev_get_mtu(port_id, &m) == 0 && m) mtu = m;
  if (cfg.xdp) return configure_xdp(why);
  return {};
}

// After the start, so the PMD has attached the program (in rx queue setup) and entered its sockets in
// the program's xsks_map. Until this runs the program does what it does unconfigured (the _ipv4
// object: IPv4 to the sockets, ARP to the kernel; the plain one: everything to the kernel): a few
// frames' window in which no loss is drawn and an ARP request may go unanswered (the peer repeats it).
std::error_code port::ethdev::configure_xdp(std::string& why) {
#ifdef RINGLAB_DPDK_WITH_XDP
  const std::string iface = iface_of(cfg.device);
  const int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (!ifindex) {
    why = "xdp: no interface '" + iface + "' (iface=) in this network namespace";
    return errc(ENODEV);
  }
  auto maps = afxdp::program_maps::of_interface(ifindex);
  if (!maps) {
    why = "xdp: " + iface + ": " + maps.error().reason + " (xdp_prog= must name ringlab's xsk_redirect*.bpf.o)";
    return maps.error().code;
  }
  xdp_maps = std::move(*maps);
  afxdp::config c;
  c.all_ipv4 = true;
  c.arp_to_xsk = cfg.xdp->arp_to_us;
  c.drop_ppm = cfg.xdp->drop_ppm;
  c.drop_seed = cfg.xdp->drop_seed;
  if (auto ec = xdp_maps.write(c, why)) {
    why = "xdp: " + iface + ": " + why;
    return ec;
  }
  return {};
#else
  why = "xdp: this build has no AF_XDP backend";
  return errc(ENOTSUP);
#endif
}

port::~port() = default;   // the last port of an ethdev closes it (ethdev's destructor)

std::size_t port::rx_burst(std::span<frame_ref> out) noexcept {
  std::array<rte_mbuf*, burst> m;
  const auto want = static_cast<std::uint16_t>(std::min(out.size(), burst));
  const std::uint16_t n = rte_eth_rx_burst(port_id_, queue_, m.data(), want);
  if (!n) return 0;
  const std::size_t got = pool_->alloc_burst(out.first(n));
  const std::uint64_t t = trace::monotonic_ns();
  const std::size_t room = pool_->room();
  std::size_t k = 0;
  for (std::size_t i = 0; i < got; ++i) {
    const std::uint32_t len = rte_pktmbuf_pkt_len(m[i]);
    if (len > room) {
      ++c_.rx_oversize;
      continue;
    }
    frame_ref& f = out[k];
    if (k != i) std::swap(out[k].id, out[i].id), std::swap(out[k].bytes, out[i].bytes);
    // The copy: one segment (the common case) by memcpy, chains through rte_pktmbuf_read.
    const void* src = rte_pktmbuf_read(m[i], 0, len, f.bytes.data());
    if (src != f.bytes.data()) std::memcpy(f.bytes.data(), src, len);
    f.bytes = f.bytes.first(len);
    f.meta = {};
    f.meta.packet_id = next_packet_id();
    f.meta.t_ns = t;
    f.meta.rss_hash = m[i]->hash.rss;
    f.meta.queue = label_;
    c_.rx_bytes += len;
    if (trace::enabled())
      trace::emit({.packet_id = f.meta.packet_id, .t_ns = t, .frame = f.id, .queue = label_, .stage = trace::hop::nic_rx});
    ++k;
  }
  if (k < got) pool_->free_burst(out.subspan(k, got - k));   // oversize frames' pool frames go back
  c_.rx_pool_empty += n - got;
  rte_pktmbuf_free_bulk(m.data(), n);
  c_.rx_packets += k;
  return k;
}

ringlab::port::tx_batch port::tx_reserve(std::size_t n) noexcept {
  std::array<frame_ref, burst> tmp;
  const std::size_t got = pool_->alloc_burst({tmp.data(), std::min(n, burst)});
  return ringlab::port::tx_batch(this, {tmp.data(), got});
}

void port::tx_commit(std::span<frame_ref> frames) noexcept {
  std::array<rte_mbuf*, burst> m;
  const auto k = static_cast<unsigned>(frames.size());
  if (rte_pktmbuf_alloc_bulk(mp_, m.data(), k) != 0) {
    c_.tx_no_mbuf += k;
    pool_->free_burst(frames);
    return;
  }
  for (unsigned i = 0; i < k; ++i) {
    const auto len = static_cast<std::uint16_t>(std::min<std::size_t>(frames[i].bytes.size(), rte_pktmbuf_tailroom(m[i])));
    char* dst = rte_pktmbuf_append(m[i], len);
    std::memcpy(dst, frames[i].bytes.data(), len);
    c_.tx_bytes += len;
    if (trace::enabled())
      trace::emit({.packet_id = frames[i].meta.packet_id, .t_ns = trace::monotonic_ns(), .frame = frames[i].id, .queue = label_,
                   .stage = trace::hop::nic_tx, .v = trace::verdict::tx});
  }
  pool_->free_burst(frames);   // copied: the frames go back at once
  const std::uint16_t sent = rte_eth_tx_burst(port_id_, queue_, m.data(), static_cast<std::uint16_t>(k));
  c_.tx_packets += sent;
  if (sent < k) {
    c_.tx_ring_full += k - sent;
    rte_pktmbuf_free_bulk(m.data() + sent, k - sent);
  }
}

ringlab::port::port_caps port::caps() const {
  ringlab::port::port_caps c;
  // Appended piece by piece: GCC 12 at -O3 sees a false -Wrestrict overlap in `"x" + std::string&&`.
  c.name = "dpdk:";
  c.name += dev_->name;
  if (dev_->queues > 1) {
    c.name += '/';
    c.name += std::to_string(queue_);
  }
  c.rx_queues = c.tx_queues = 1;
  c.mtu = frame_mtu(dev_->mtu);
  return c;
}

std::error_code port::stats(eth_stats& out) const noexcept {
  rte_eth_stats s{};
  if (int rc = rte_eth_stats_get(port_id_, &s); rc != 0) return errc(rc);
  out = {s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf};
  return {};
}

std::uint64_t port::queue_ipackets() const noexcept {
  rte_eth_stats s{};
  if (rte_eth_stats_get(port_id_, &s) != 0 || queue_ >= RTE_ETHDEV_QUEUE_STAT_CNTRS) return 0;
  return s.q_ipackets[queue_];
}

std::error_code port::xdp_verdicts(afxdp::xdp_verdicts& out) const noexcept {
#ifdef RINGLAB_DPDK_WITH_XDP
  if (dev_->xdp_maps.valid()) return dev_->xdp_maps.verdicts(out);
#endif
  (void)out;
  return errc(ENOENT);
}

result<ring_pair> make_ring_pair(const std::string& name_a, const std::string& name_b, config base) {
  std::string why;
  if (auto ec = eal_init(base.eal_args, why)) return open_error{ec, "dpdk: " + why};
  static std::atomic<unsigned> seq{0};
  const unsigned s = seq.fetch_add(1);
  const std::string ra = "rl_a2b_" + std::to_string(s), rb = "rl_b2a_" + std::to_string(s);
  rte_ring* a2b = rte_ring_create(ra.c_str(), 1024, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* b2a = rte_ring_create(rb.c_str(), 1024, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (!a2b || !b2a) {
    rte_ring_free(a2b);
    rte_ring_free(b2a);
    return make_error(rte_errno ? rte_errno : ENOMEM, "dpdk: net_ring pair: rte_ring_create failed: " + std::string(rte_strerror(rte_errno)));
  }
  // Both ports hold the rings; they are freed after the second ethdev closes.
  std::shared_ptr<void> rings(nullptr, [a2b, b2a](void*) {
    rte_ring_free(a2b);
    rte_ring_free(b2a);
  });
  if (rte_eth_from_rings(name_a.c_str(), &b2a, 1, &a2b, 1, rte_socket_id()) < 0 ||
      rte_eth_from_rings(name_b.c_str(), &a2b, 1, &b2a, 1, rte_socket_id()) < 0)
    return make_error(rte_errno ? rte_errno : EINVAL, "dpdk: net_ring pair " + name_a + "/" + name_b + ": rte_eth_from_rings failed: " + rte_strerror(rte_errno));
  config ca = base, cb = base;
  ca.device = "net_ring_" + name_a;   // rte_eth_from_rings names the ethdev net_ring_<name>
  cb.device = "net_ring_" + name_b;
  ca.keep_alive = cb.keep_alive = rings;
  auto pa = port::open(ca);
  if (!pa) return pa.error();
  auto pb = port::open(cb);
  if (!pb) return pb.error();
  return ring_pair{std::move(pa).value(), std::move(pb).value()};
}

}  // namespace ringlab::backends::dpdk
