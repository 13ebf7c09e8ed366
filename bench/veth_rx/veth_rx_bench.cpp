// One offered load, six receivers, one run. A sender thread in namespace b pushes 64-byte UDP
// datagrams (sendmmsg, 64 per call) across a veth pair as fast as its core allows; in namespace a we
// receive them with
//   kernel_recvmmsg  a UDP socket, recvmmsg(64, MSG_WAITFORONE)          (no XDP program attached)
//   asio_epoll       the same socket path through Asio (epoll reactor): bench/kernel_udp's udp_rx,
//   asio_uring       ... and its io_uring build; one async_receive in flight, re-armed from its handler
//   afxdp_port       backends::afxdp::port, rx_burst(64) + poll when empty  (our program, copy mode)
//   afxdp_port_busy  the same, busy polling (as DPDK does)
//   dpdk_af_xdp      backends::dpdk::port over net_af_xdp, rx_burst(64)    (busy poll, as DPDK does)
// and report packets/s received, drops (sent - received) and the receiver thread's CPU time per
// packet (CLOCK_THREAD_CPUTIME_ID), and both as ratios to the kernel_recvmmsg rows of the same run
// (pps_vs_mmsg, cpu_vs_mmsg). Sender on CPU 1, receiver on CPU 0, for every peer alike. Every kernel
// socket gets an 8 MiB receive buffer (SO_RCVBUFFORCE), as bench/kernel_udp's udp_rx sets itself.
//
// What it cannot show on a veth: the kernel's receive work for a veth runs in the SENDER's softirq
// (veth_xmit -> netif_rx / veth NAPI), so "receiver CPU" is the user-side cost plus syscalls; and veth
// has no zero-copy, so AF_XDP copies every frame into the UMEM. Read backends/README.md.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/dpdk/dpdk_port.hpp"
#include "bench/kernel_udp/udp_rx.hpp"
#include "tests/netns/afxdp/veth_pair.hpp"

namespace tv = ringlab::test_veth;
using ringlab::bench::thread_cpu_ns;
using ringlab::port::frame_ref;

namespace {

std::uint64_t packets_per_run() {
  const char* e = std::getenv("RINGLAB_VETH_RX_PACKETS");
  return e ? std::strtoull(e, nullptr, 10) : 500000;
}

void pin(int cpu) {
  const int n = int(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(n > 1 ? cpu % n : 0, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// The shared world: one veth pair for the whole run (made on first use, removed at exit).
tv::veth_pair& world() {
  static std::unique_ptr<tv::veth_pair> v = [] {
    auto p = std::make_unique<tv::veth_pair>("vb");
    if (p->ok()) p->enter_a();
    return p;
  }();
  return *v;
}

struct sender {
  std::atomic<bool> done{false};   // (S) set once the sender thread has sent everything
  std::uint64_t sent = 0;
  std::thread t;

  void start(std::uint64_t n) {
    const int s = world().socket_in_b(SOCK_DGRAM);
    int sndbuf = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    t = std::thread([this, s, n] {
      pin(1);
      const auto to = tv::ipv4(tv::veth_pair::addr_a, 5000);
      char payload[64] = "ringlab veth_rx";
      std::array<iovec, 64> iov;
      std::array<mmsghdr, 64> msgs{};
      for (std::size_t i = 0; i < 64; ++i) {
        iov[i] = {payload, sizeof payload};
        msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
        msgs[i].msg_hdr.msg_namelen = sizeof to;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      while (sent < n) {
        const int k = sendmmsg(s, msgs.data(), unsigned(std::min<std::uint64_t>(64, n - sent)), 0);
        if (k > 0) sent += std::uint64_t(k);
        else if (errno != ENOBUFS && errno != EAGAIN) break;
      }
      ::close(s);
      // R1 release: `sent` is final; pairs with the receivers' acquire (trial, udp_rx::receive_until).
      done.store(true, std::memory_order_release);
    });
  }
  void join() { if (t.joinable()) t.join(); }
};

// The kernel_recvmmsg rows' means (all its repetitions), for the ratios of the rows after them
// (registered first, so run first).
struct {
  double pps = 0, cpu = 0;
  int n = 0;
} mmsg_baseline;

void report(benchmark::State& state, std::uint64_t sent, std::uint64_t got, double secs, std::uint64_t cpu) {
  const double pps = secs > 0 ? double(got) / secs : 0;
  const double cpu_per = got ? double(cpu) / double(got) : 0;
  state.SetIterationTime(secs > 0 ? secs : 1e-9);
  state.SetItemsProcessed(std::int64_t(got));
  state.counters["offered"] = double(sent);
  state.counters["received"] = double(got);
  state.counters["drops"] = double(sent - std::min(got, sent));
  state.counters["rx_pps"] = pps;
  state.counters["cpu_ns_per_pkt"] = cpu_per;
  if (mmsg_baseline.n > 0 && mmsg_baseline.pps > 0 && mmsg_baseline.cpu > 0) {
    state.counters["pps_vs_mmsg"] = pps / (mmsg_baseline.pps / mmsg_baseline.n);
    state.counters["cpu_vs_mmsg"] = cpu_per / (mmsg_baseline.cpu / mmsg_baseline.n);
  }
}

// Runs one trial: `poll_once` returns packets received (0 when idle); stops 50 ms after the sender ends.
template <class Poll>
void trial(benchmark::State& state, Poll poll_once) {
  const std::uint64_t n = packets_per_run();
  std::uint64_t got = 0;
  pin(0);
  sender snd;
  const std::uint64_t cpu0 = thread_cpu_ns();
  const auto t0 = std::chrono::steady_clock::now();
  auto last_rx = t0;
  snd.start(n);
  for (;;) {
    const std::uint64_t k = poll_once();
    const auto now = std::chrono::steady_clock::now();
    if (k) { got += k; last_rx = now; }
    if (snd.done.load(std::memory_order_acquire) && (got >= snd.sent || now - last_rx > std::chrono::milliseconds(50))) break;
    if (now - t0 > std::chrono::seconds(30)) break;
  }
  const double secs = std::chrono::duration<double>(last_rx - t0).count();
  const std::uint64_t cpu = thread_cpu_ns() - cpu0;
  snd.join();
  report(state, snd.sent, got, secs, cpu);
}

// The same trial for a receiver that runs its own loop (Asio's io_context): it returns once the
// sender is done and nothing came for 50 ms, with the time of its last packet.
void trial_asio(benchmark::State& state, ringlab::bench::udp_rx& rx) {
  const std::uint64_t n = packets_per_run();
  pin(0);
  sender snd;
  const auto t0 = std::chrono::steady_clock::now();
  snd.start(n);
  const auto r = rx.receive_until(n, snd.done, std::chrono::milliseconds(50));
  snd.join();
  const double secs = r.packets ? std::chrono::duration<double>(r.last_packet - t0).count() : 0;
  report(state, snd.sent, r.packets, secs, r.cpu_ns);
  if (r.timed_out) state.SkipWithError("no traffic for 5 s");
}

// Buffering depth: 8192 frames posted (32 MiB UMEM, root passes memlock with CAP_IPC_LOCK), about what
// the kernel socket's 4 MiB receive buffer holds; with the default 2048 a receiver starved of its core
// for ~13 ms at 160 kpps runs the fill ring dry (rx_fill_ring_empty_descs) on this loaded machine.
ringlab::backends::afxdp::config deep_config() {
  ringlab::backends::afxdp::config c;
  c.ifname = world().if_a;
  c.udp_ports = {5000};
  c.pool = {16384, 2048, 256};
  c.fill_size = c.rx_size = 8192;
  return c;
}

#define REQUIRE_WORLD(state)                                                            \
  if (auto why = tv::netns_skip_reason(); !why.empty()) { state.SkipWithError(why.c_str()); return; } \
  if (!world().ok()) { state.SkipWithError(world().error.c_str()); return; }

void kernel_recvmmsg(benchmark::State& state) {
  REQUIRE_WORLD(state);
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ringlab::bench::deep_receive_buffer(s);   // as udp_rx (the Asio rows)
  timeval tmo{0, 20000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
  const auto a = tv::ipv4(tv::veth_pair::addr_a, 5000);
  if (::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) { state.SkipWithError("bind failed"); return; }
  std::array<char, 64 * 2048> bufs;
  std::array<iovec, 64> iov;
  std::array<mmsghdr, 64> msgs{};
  for (std::size_t i = 0; i < 64; ++i) {
    iov[i] = {bufs.data() + i * 2048, 2048};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const int k = recvmmsg(s, msgs.data(), 64, MSG_WAITFORONE, nullptr);
      return k > 0 ? std::uint64_t(k) : 0;
    });
  }
  ::close(s);
  state.counters.erase("pps_vs_mmsg");   // the baseline itself: no ratio to its own earlier repetitions
  state.counters.erase("cpu_vs_mmsg");
  mmsg_baseline.pps += state.counters["rx_pps"];
  mmsg_baseline.cpu += state.counters["cpu_ns_per_pkt"];
  ++mmsg_baseline.n;
}

// Asio on the kernel socket, one build per io mode (bench/kernel_udp/udp_rx_io.cpp, compiled twice).
template <bool Uring>
void asio_udp(benchmark::State& state) {
  REQUIRE_WORLD(state);
  const ringlab::bench::rx_where where{tv::veth_pair::addr_a, 5000};
  std::unique_ptr<ringlab::bench::udp_rx> rx;
  try {
    rx = Uring ? ringlab::bench::uring::make_udp_rx(where) : ringlab::bench::epoll::make_udp_rx(where);
  } catch (const std::exception& e) {   // bind failed (Asio throws at set-up, never per packet)
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) trial_asio(state, *rx);
  state.SetLabel(Uring ? "asio io_uring" : "asio epoll");
}

void afxdp_port(benchmark::State& state) {
  REQUIRE_WORLD(state);
  ringlab::backends::afxdp::config c = deep_config();
  auto p = ringlab::backends::afxdp::port::open(c);
  if (!p) { state.SkipWithError(p.error().reason.c_str()); return; }
  auto& port = *p.value();
  std::array<frame_ref, 64> buf;
  const int fd = port.caps().wait_fd;
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const std::size_t k = port.rx_burst(buf);
      if (k) port.rx_release(std::span(buf).first(k));
      else {
        pollfd pf{fd, POLLIN, 0};
        poll(&pf, 1, 20);
      }
      return k;
    });
  }
  ringlab::backends::afxdp::xdp_stats st;
  port.statistics(st);
  state.counters["xsk_rx_dropped"] = double(st.rx_dropped);
  state.counters["xsk_rx_ring_full"] = double(st.rx_ring_full);
  state.counters["xsk_fill_empty"] = double(st.rx_fill_ring_empty_descs);
  state.SetLabel(port.caps().name);
}

void afxdp_port_busy(benchmark::State& state) {
  REQUIRE_WORLD(state);
  ringlab::backends::afxdp::config c = deep_config();
  auto p = ringlab::backends::afxdp::port::open(c);
  if (!p) { state.SkipWithError(p.error().reason.c_str()); return; }
  auto& port = *p.value();
  std::array<frame_ref, 64> buf;
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const std::size_t k = port.rx_burst(buf);
      if (k) port.rx_release(std::span(buf).first(k));
      return k;
    });
  }
  ringlab::backends::afxdp::xdp_stats st;
  port.statistics(st);
  state.counters["xsk_rx_dropped"] = double(st.rx_dropped);
  state.counters["xsk_fill_empty"] = double(st.rx_fill_ring_empty_descs);
  state.SetLabel(port.caps().name + " (busy poll)");
}

void dpdk_af_xdp(benchmark::State& state) {
  REQUIRE_WORLD(state);
  setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
  // One vdev for every repetition (closing and re-creating it costs the ~50 ms EBUSY window each time).
  static auto p = ringlab::backends::dpdk::port::open(
      {.device = "net_af_xdp0,iface=" + world().if_a + ",start_queue=0,queue_count=1,xdp_prog=" RINGLAB_AFXDP_BPF_OBJ_IPV4,
       .mbufs = 16383,
       .rx_desc = 8192});
  if (!p) { state.SkipWithError(p.error().reason.c_str()); return; }
  auto& port = *p.value();
  std::array<frame_ref, 64> buf;
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const std::size_t k = port.rx_burst(buf);
      if (k) port.rx_release(std::span(buf).first(k));
      return k;
    });
  }
  ringlab::backends::dpdk::eth_stats st;
  port.stats(st);
  state.counters["eth_imissed"] = double(st.imissed);
  state.SetLabel(port.caps().name + " (busy poll)");
}

}  // namespace

BENCHMARK(kernel_recvmmsg)->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_udp<false>)->Name("asio_epoll")->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_udp<true>)->Name("asio_uring")->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(afxdp_port)->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(afxdp_port_busy)->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(dpdk_af_xdp)->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
