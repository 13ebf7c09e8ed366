// One offered load, eight receivers, one run. A sender thread in namespace b pushes 64-byte UDP
// datagrams (sendmmsg, 64 per call) across a veth pair as fast as its core allows; in namespace a we
// receive them with
//   kernel_recvmmsg        a UDP socket, recvmmsg(64, MSG_WAITFORONE)           (no XDP program attached)
//   asio_epoll             the same socket path through Asio (epoll reactor): bench/kernel_udp's udp_rx,
//   asio_uring             ... and its io_uring build; one async_receive in flight, re-armed from its handler
//   afxdp_poll             backends::afxdp::port, rx_burst(64), poll() on the socket when empty
//   afxdp_spin             the same, spinning on rx_burst without a syscall when empty
//   afxdp_busy_poll        the same, with kernel busy polling (SO_PREFER_BUSY_POLL, recvfrom when empty)
//   dpdk_af_xdp_spin       backends::dpdk::port over net_af_xdp, busy_budget=0: spins like afxdp_spin
//   dpdk_af_xdp_busy_poll  the same with net_af_xdp's default busy_budget=64: busy polls like afxdp_busy_poll
//   afxdp_2q_lanes:1       a second veth pair with two queues per end and 16 flows offered (16 sender
//   afxdp_2q_lanes:2       sockets, so the kernel spreads them over both queues); our port on both
//                          queues (open_queues, one XDP program), poll() when idle, driven by ONE thread
//                          (lanes:1, both queues) or by one thread per queue (lanes:2, CPU 0 and CPU 1).
//                          The report shows lanes:2 against lanes:1: the 2-lane vs 1-lane pair.
// Every AF_XDP row, ours and DPDK's, runs the same XDP program, xsk_redirect_ipv4.bpf.o (all IPv4 to
// the socket, ARP to the kernel), attached natively, socket in copy mode. DPDK's net_af_xdp has no
// sleeping mode here (in copy mode the kernel never sets the fill ring's need_wakeup flag, the only
// case in which the PMD poll()s), so there is no dpdk_af_xdp_poll row.
//
// Counters, per repetition (Google Benchmark user counters; the JSON has them per row):
//   cpu_ns_per_pkt  the headline: the receiving thread's CPU time (CLOCK_THREAD_CPUTIME_ID) / received
//   offered_pps     THE SENDER'S OFFERED LOAD: datagrams sent / the sender thread's time from its
//                   first to its last sendmmsg. The same for every row only as far as the sender's
//                   core is; compare rows at the offered_pps they actually got.
//   rx_pps          received / time from the start to the last datagram received (= offered_pps when
//                   nothing is lost, less when the receiver falls behind)
//   offered, received, drops (= offered - received)
//   drops by reason: kernel rows udp_rcvbuf_errors (/proc/net/snmp RcvbufErrors of ns a, the socket
//                   queue full); AF_XDP rows xsk_fill_empty (XDP_STATISTICS rx_fill_ring_empty_descs:
//                   no frame posted), xsk_rx_ring_full, xsk_rx_dropped (all drops the socket counted);
//                   DPDK rows eth_imissed (net_af_xdp reports the socket's rx_dropped there)
// Ratios between rows belong in the report (bench-results), not here: every row stands alone, so
// the program runs in any order (--benchmark_enable_random_interleaving).
//
// Buffering depth, the same for every receiver as far as each allows: the kernel sockets get an 8 MiB
// receive buffer (SO_RCVBUFFORCE, as bench/kernel_udp's udp_rx), which holds 20 164 of these datagrams
// (832 B truesize each, measured on this machine); our AF_XDP port posts 22 528 fill frames. DPDK's
// net_af_xdp posts a fixed 2048 (ETH_AF_XDP_DFLT_NUM_DESCS in DPDK 22.11, no devarg changes it), so
// its rows absorb a tenth of the others' scheduling gap.
//
// What it cannot show on a veth: the kernel's receive work for a veth runs in the SENDER's softirq
// (veth_xmit -> veth NAPI) unless a busy-polling receiver pulls it onto its own core, so "receiver CPU"
// is the user-side cost plus syscalls for every row but the busy_poll ones; and veth has no zero-copy,
// so AF_XDP copies every frame into the UMEM. Read backends/README.md.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

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

// RINGLAB_VETH_RX_STALL_MS: the receiver stops for this long each time another quarter of the run has
// arrived (three stalls a repetition): a receiver descheduled or woken late, as on a loaded or
// overcommitted VM, made repeatable. Each receiver must then hold stall x offered load datagrams in its
// buffer (socket queue or posted fill frames). 0 (default): no stalls. Not applied to the Asio rows
// (their loop is udp_rx's).
std::chrono::milliseconds stall_per_quarter() {
  const char* e = std::getenv("RINGLAB_VETH_RX_STALL_MS");
  return std::chrono::milliseconds(e ? std::strtoull(e, nullptr, 10) : 0);
}

// RINGLAB_VETH_RX_PPS: the sender paces itself to at most this many datagrams/s (one sendmmsg of 64
// every 64/pps s), so that every row gets the same offered load. A sender that fell behind by more
// than 5 ms (its core taken) does not catch up in a burst: the schedule restarts from now. 0
// (default): as fast as it can.
double paced_pps() {
  const char* e = std::getenv("RINGLAB_VETH_RX_PPS");
  return e ? std::strtod(e, nullptr) : 0;
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
  static std::unique_ptr<tv::veth_pair> v = std::make_unique<tv::veth_pair>("vb");
  return *v;
}

// The lanes rows' world: the same addresses in two other namespaces, both veth ends with two queues.
// A veth hands a frame to the peer's rx queue numbered as the sender's tx queue, which the kernel picks
// per flow (skb_tx_hash, cached per socket; no XPS on a veth): 16 sending sockets spread over both.
tv::veth_pair& world_2q() {
  static std::unique_ptr<tv::veth_pair> v = std::make_unique<tv::veth_pair>("vq", tv::veth_options{.queues = 2});
  return *v;
}

struct sender {
  std::atomic<bool> done{false};   // (S) set once the sender thread has sent everything
  std::uint64_t sent = 0;          // (S) final once done
  double secs = 0;                 // (S) first to last sendmmsg, final once done
  std::thread t;

  // `flows` sockets in ns b of `w` (each its own source port), sendmmsg round-robin over them.
  void start(std::uint64_t n, tv::veth_pair& w = world(), int flows = 1) {
    std::vector<int> socks;
    for (int f = 0; f < flows; ++f) {
      const int s = w.socket_in_b(SOCK_DGRAM);
      int sndbuf = 4 << 20;
      setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      socks.push_back(s);
    }
    t = std::thread([this, socks, n] {
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
      const double pps = paced_pps();
      const auto t0 = std::chrono::steady_clock::now();
      const auto gap = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(pps > 0 ? 64.0 / pps : 0));
      auto next = t0;
      std::size_t flow = 0;
      while (sent < n) {
        const int s = socks[flow];
        flow = (flow + 1) % socks.size();
        if (pps > 0) {
          std::this_thread::sleep_until(next);
          const auto now = std::chrono::steady_clock::now();
          if (now - next > std::chrono::milliseconds(5)) next = now;   // late by more than 5 ms: no burst
          next += gap;
        }
        const int k = sendmmsg(s, msgs.data(), unsigned(std::min<std::uint64_t>(64, n - sent)), 0);
        if (k > 0) sent += std::uint64_t(k);
        else if (errno != ENOBUFS && errno != EAGAIN) break;
      }
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (int s : socks) ::close(s);
      // R1 release: `sent` is final; pairs with the receivers' acquire (trial, udp_rx::receive_until).
      done.store(true, std::memory_order_release);
    });
  }
  void join() { if (t.joinable()) t.join(); }
};

// One repetition's figures, the same for every receiver (and plain bytes: a DPDK row's child process
// sends them back through a pipe).
struct trial_result {
  std::uint64_t sent = 0, got = 0, cpu_ns = 0;
  double secs = 0;        // start to the last datagram received
  double send_secs = 0;   // the sender's first to last sendmmsg
};

void report(benchmark::State& state, const trial_result& r) {
  state.SetIterationTime(r.secs > 0 ? r.secs : 1e-9);
  state.SetItemsProcessed(std::int64_t(r.got));
  state.counters["offered"] = double(r.sent);
  state.counters["offered_pps"] = r.send_secs > 0 ? double(r.sent) / r.send_secs : 0;
  state.counters["received"] = double(r.got);
  state.counters["drops"] = double(r.sent - std::min(r.got, r.sent));
  state.counters["rx_pps"] = r.secs > 0 ? double(r.got) / r.secs : 0;
  state.counters["cpu_ns_per_pkt"] = r.got ? double(r.cpu_ns) / double(r.got) : 0;
  if (r.got == 0) state.SkipWithError("nothing received");
}

// Runs one trial: `poll_once` returns packets received (0 when idle); stops 50 ms after the sender ends.
template <class Poll>
trial_result run_trial(Poll poll_once) {
  const std::uint64_t n = packets_per_run();
  const auto stall = stall_per_quarter();
  std::uint64_t next_stall = n / 4;
  trial_result r;
  pin(0);
  sender snd;
  const std::uint64_t cpu0 = thread_cpu_ns();
  const auto t0 = std::chrono::steady_clock::now();
  auto last_rx = t0;
  snd.start(n);
  for (;;) {
    const std::uint64_t k = poll_once();
    const auto now = std::chrono::steady_clock::now();
    if (k) { r.got += k; last_rx = now; }
    if (stall.count() && r.got >= next_stall && next_stall < n) {
      std::this_thread::sleep_for(stall);
      next_stall += n / 4;
    }
    if (snd.done.load(std::memory_order_acquire) && (r.got >= snd.sent || now - last_rx > std::chrono::milliseconds(50))) {
      // 50 ms idle may be 50 ms off the core on a loaded machine: stop only after one more empty poll.
      if (r.got >= snd.sent) break;
      if (const std::uint64_t more = poll_once()) {
        r.got += more;
        last_rx = std::chrono::steady_clock::now();
        continue;
      }
      break;
    }
    if (now - t0 > std::chrono::seconds(30)) break;
  }
  r.secs = std::chrono::duration<double>(last_rx - t0).count();
  r.cpu_ns = thread_cpu_ns() - cpu0;
  snd.join();
  r.sent = snd.sent;
  r.send_secs = snd.secs;
  return r;
}

template <class Poll>
void trial(benchmark::State& state, Poll poll_once) {
  report(state, run_trial(poll_once));
}

// The same trial for a receiver that runs its own loop (Asio's io_context): it returns once the
// sender is done and nothing came for 50 ms, with the time of its last packet.
void trial_asio(benchmark::State& state, ringlab::bench::udp_rx& rx) {
  const std::uint64_t n = packets_per_run();
  pin(0);
  sender snd;
  const auto t0 = std::chrono::steady_clock::now();
  snd.start(n);
  const auto a = rx.receive_until(n, snd.done, std::chrono::milliseconds(50));
  snd.join();
  trial_result r;
  r.sent = snd.sent;
  r.send_secs = snd.secs;
  r.got = a.packets;
  r.cpu_ns = a.cpu_ns;
  r.secs = a.packets ? std::chrono::duration<double>(a.last_packet - t0).count() : 0;
  report(state, r);
  if (a.timed_out) state.SkipWithError("no traffic for 5 s");
}

// The kernel socket's queue in datagrams: RcvbufErrors in ns a's /proc/net/snmp (this thread is in ns a).
std::uint64_t udp_rcvbuf_errors() {
  std::FILE* f = std::fopen("/proc/net/snmp", "r");
  if (!f) return 0;
  char names[1024], values[1024];
  std::uint64_t v = 0;
  while (std::fgets(names, sizeof names, f) && std::fgets(values, sizeof values, f)) {
    if (std::strncmp(names, "Udp:", 4) != 0) continue;
    // Column of RcvbufErrors in the header line, the same column in the values line.
    int col = -1, c = 0;
    for (char* t = std::strtok(names, " \n"); t; t = std::strtok(nullptr, " \n"), ++c)
      if (std::strcmp(t, "RcvbufErrors") == 0) col = c;
    c = 0;
    for (char* t = std::strtok(values, " \n"); t; t = std::strtok(nullptr, " \n"), ++c)
      if (c == col) v = std::strtoull(t, nullptr, 10);
    break;
  }
  std::fclose(f);
  return v;
}

// Our port as every AF_XDP row runs it: the program DPDK gets (xsk_redirect_ipv4.bpf.o, configured
// the same: all IPv4 to the socket, ARP to the kernel), and 22 528 frames posted: at least what the
// kernel socket's 8 MiB queue holds in these datagrams (20 164), with a tenth to spare. A stalled
// AF_XDP receiver absorbs exactly the frames it left posted (measured: a 1 s stall at ~28 kpps, 20 480
// posted, 20 288 absorbed, 64 of them already waiting when it stopped); the kernel's queue is a byte
// budget whose datagram count moves with truesize. 26 624 frames x 2 KiB = a 52 MiB UMEM (root passes
// memlock with CAP_IPC_LOCK). Over `queues` queues, each queue's port gets its share of that depth.
ringlab::backends::afxdp::config deep_config(tv::veth_pair& w = world(), std::uint32_t queues = 1) {
  ringlab::backends::afxdp::config c;
  c.ifname = w.if_a;
  c.all_ipv4 = true;
  c.bpf_object = RINGLAB_AFXDP_BPF_OBJ_IPV4;
  c.pool = {26624 / queues, 2048, 256};
  c.fill_size = c.rx_size = 32768 / queues;
  c.fill_frames = 22528 / queues;
  return c;
}

// Every row enters its world's ns a first: the rows run in any order, and the lanes rows live in
// another pair (world_2q) than the others.
#define REQUIRE_WORLD_OF(state, w)                                                      \
  if (auto why = tv::netns_skip_reason(); !why.empty()) { state.SkipWithError(why.c_str()); return; } \
  if (!(w).ok()) { state.SkipWithError((w).error.c_str()); return; }                  \
  if (!(w).enter_a()) { state.SkipWithError("cannot enter the veth pair's namespace"); return; }
#define REQUIRE_WORLD(state) REQUIRE_WORLD_OF(state, world())

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
  const std::uint64_t e0 = udp_rcvbuf_errors();
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const int k = recvmmsg(s, msgs.data(), 64, MSG_WAITFORONE, nullptr);
      return k > 0 ? std::uint64_t(k) : 0;
    });
  }
  state.counters["udp_rcvbuf_errors"] = double(udp_rcvbuf_errors() - e0);
  ::close(s);
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
  const std::uint64_t e0 = udp_rcvbuf_errors();
  for (auto _ : state) trial_asio(state, *rx);
  state.counters["udp_rcvbuf_errors"] = double(udp_rcvbuf_errors() - e0);
  state.SetLabel(Uring ? "asio io_uring" : "asio epoll");
}

enum class style { poll, spin, busy_poll };

template <style Style>
void afxdp(benchmark::State& state) {
  REQUIRE_WORLD(state);
  ringlab::backends::afxdp::config c = deep_config();
  if (Style == style::busy_poll) c.busy_poll_budget = 64;   // as net_af_xdp's default busy_budget
  auto p = ringlab::backends::afxdp::port::open(c);
  if (!p) { state.SkipWithError(p.error().reason.c_str()); return; }
  auto& port = *p.value();
  std::array<frame_ref, 64> buf;
  const int fd = port.caps().wait_fd;
  std::uint64_t sleeps = 0;
  for (auto _ : state) {
    trial(state, [&]() -> std::uint64_t {
      const std::size_t k = port.rx_burst(buf);
      if (k) port.rx_release(std::span(buf).first(k));
      else if (Style == style::poll) {
        pollfd pf{fd, POLLIN, 0};
        ++sleeps;
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
  state.counters["xsk_rx_invalid"] = double(st.rx_invalid_descs);
  state.counters["fill_short"] = double(port.stats().fill_frames_short + port.stats().fill_no_room);
  state.counters["kernel_held"] = double(port.kernel_held());
  if (Style == style::poll) state.counters["sleeps"] = double(sleeps);
  if (Style == style::busy_poll) state.counters["busy_polls"] = double(port.stats().rx_busy_polls);
  state.SetLabel(port.caps().name + (Style == style::poll ? " poll()" : Style == style::spin ? " spin" : " busy poll"));
}

// A DPDK row runs each repetition in a child process of its own: EAL initialises once per process, and
// DPDK 22.11's net_af_xdp does not release its AF_XDP socket on close (the next bind of the queue in
// that process fails with EBUSY for good; seen here with strace), so in one process there could be one
// DPDK row, run last. The child opens the port, runs the trial, closes the port (which detaches the
// program) and hands its figures back through a pipe; its exit releases whatever the PMD kept.
struct dpdk_child_result {
  trial_result r;
  std::uint64_t imissed = 0;
  char error[512] = {};
};

template <style Style>
dpdk_child_result dpdk_child() {
  dpdk_child_result out;
  setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
  auto p = ringlab::backends::dpdk::port::open(
      {.device = "net_af_xdp0,iface=" + world().if_a + ",start_queue=0,queue_count=1,xdp_prog=" RINGLAB_AFXDP_BPF_OBJ_IPV4 +
                 (Style == style::spin ? ",busy_budget=0" : ""),
       .mbufs = 16383,
       .rx_desc = 8192,
       .promiscuous = false});
  if (!p) {
    std::snprintf(out.error, sizeof out.error, "%s", p.error().reason.c_str());
    return out;
  }
  auto& port = *p.value();
  std::array<frame_ref, 64> buf;
  out.r = run_trial([&]() -> std::uint64_t {
    const std::size_t k = port.rx_burst(buf);
    if (k) port.rx_release(std::span(buf).first(k));
    return k;
  });
  ringlab::backends::dpdk::eth_stats st;
  port.stats(st);
  out.imissed = st.imissed;
  return out;
}

template <style Style>
void dpdk_af_xdp(benchmark::State& state) {
  REQUIRE_WORLD(state);
  for (auto _ : state) {
    int fds[2];
    if (pipe(fds) != 0) { state.SkipWithError("pipe failed"); return; }
    const pid_t pid = fork();
    if (pid < 0) { state.SkipWithError("fork failed"); return; }
    if (pid == 0) {
      ::close(fds[0]);
      const dpdk_child_result res = dpdk_child<Style>();   // the port is closed by now
      const char* b = reinterpret_cast<const char*>(&res);
      for (std::size_t off = 0; off < sizeof res;) {
        const ssize_t w = ::write(fds[1], b + off, sizeof res - off);
        if (w <= 0) _exit(3);
        off += std::size_t(w);
      }
      _exit(0);   // no destructors: the namespaces belong to the parent
    }
    ::close(fds[1]);
    dpdk_child_result res;
    char* b = reinterpret_cast<char*>(&res);
    std::size_t off = 0;
    while (off < sizeof res) {
      const ssize_t r = ::read(fds[0], b + off, sizeof res - off);
      if (r <= 0) break;
      off += std::size_t(r);
    }
    ::close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (off != sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError(("DPDK child process failed (status " + std::to_string(status) + ")").c_str());
      return;
    }
    if (res.error[0]) { state.SkipWithError(res.error); return; }
    report(state, res.r);
    state.counters["eth_imissed"] = double(res.imissed);
  }
  state.SetLabel(std::string("dpdk:net_af_xdp0") + (Style == style::spin ? " spin (busy_budget=0)" : " busy poll (busy_budget=64)"));
}


// The 2-lane vs 1-lane pair: both queues of world_2q, 16 flows offered, each lane a thread that
// polls its ports (rx_burst(64) each, release at once) and sleeps in poll() on all their fds when
// every one is empty. lanes:1 drives both ports from one thread (CPU 0); lanes:2 one port per thread
// (CPU 0 and CPU 1, where the sender also runs: this VM has two cores). The same total depth as the
// other AF_XDP rows: 11 264 frames posted on each of the two queues. Headline: the lanes' CPU time
// together per datagram; second column: received/s (the pair's ratio is the scaling).
// Frames the veth itself dropped (the sender's tx_dropped plus the receiver's rx_dropped): a veth
// with XDP queues frames for its NAPI on a 256-entry ring per queue and drops when it is full, before
// any socket counts them. Read through `ip netns exec`, which mounts the namespace's own /sys.
std::uint64_t veth_dropped(tv::veth_pair& w) {
  auto read = [](const std::string& ns, const std::string& dev, const char* what) {
    return std::strtoull(
        tv::run_out("ip netns exec " + ns + " cat /sys/class/net/" + dev + "/statistics/" + what).c_str(), nullptr, 10);
  };
  return read(w.ns_b, w.if_b, "tx_dropped") + read(w.ns_a, w.if_a, "rx_dropped");
}

template <int Lanes>
void afxdp_2q_lanes(benchmark::State& state) {
  REQUIRE_WORLD_OF(state, world_2q());
  auto opened = ringlab::backends::afxdp::port::open_queues(deep_config(world_2q(), 2), 2);
  if (!opened) { state.SkipWithError(opened.error().reason.c_str()); return; }
  auto& ports = opened.value();
  std::uint64_t per_queue[2] = {0, 0};
  const std::uint64_t veth_dropped0 = veth_dropped(world_2q());
  for (auto _ : state) {
    const std::uint64_t n = packets_per_run();
    std::atomic<std::uint64_t> total{0};          // (L) lanes add per burst; the watcher reads
    std::atomic<std::int64_t> last_rx_ns{0};      // (L) steady clock of the last burst received
    std::atomic<bool> stop{false};                // (W) the watcher ends the trial
    std::uint64_t cpu[Lanes] = {};
    std::uint64_t got[2] = {0, 0};
    auto lane = [&](int id) {
      pin(id);
      const std::uint64_t cpu0 = thread_cpu_ns();
      std::array<frame_ref, 64> buf;
      std::uint64_t lane_got[2] = {0, 0};   // this lane's own: no cache line shared per burst
      std::vector<int> mine;   // port indices
      for (int q = 0; q < 2; ++q)
        if (Lanes == 1 || q == id) mine.push_back(q);
      std::vector<pollfd> fds;
      for (int q : mine) fds.push_back({ports[std::size_t(q)]->caps().wait_fd, POLLIN, 0});
      while (!stop.load(std::memory_order_acquire)) {
        std::size_t burst = 0;
        for (int q : mine) {
          auto& p = *ports[std::size_t(q)];
          const std::size_t k = p.rx_burst(buf);
          if (k) p.rx_release(std::span(buf).first(k));
          lane_got[q] += k;
          burst += k;
        }
        if (burst) {
          total.fetch_add(burst, std::memory_order_relaxed);
          last_rx_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
        } else {
          poll(fds.data(), fds.size(), 20);
        }
      }
      cpu[id] = thread_cpu_ns() - cpu0;
      for (int q : mine) got[q] = lane_got[q];   // read after join()
    };
    sender snd;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> lanes;
    for (int i = 0; i < Lanes; ++i) lanes.emplace_back(lane, i);
    snd.start(n, world_2q(), 16);
    // The watcher (this thread, mostly asleep): the trial ends when everything sent arrived, or 50 ms
    // after the sender finished and nothing came.
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!snd.done.load(std::memory_order_acquire)) continue;
      if (total.load(std::memory_order_relaxed) >= snd.sent) break;
      const auto last = std::chrono::steady_clock::time_point(
          std::chrono::steady_clock::duration(last_rx_ns.load(std::memory_order_relaxed)));
      if (std::chrono::steady_clock::now() - std::max(last, t0) > std::chrono::milliseconds(50)) break;
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) break;
    }
    stop.store(true, std::memory_order_release);
    for (auto& t : lanes) t.join();
    snd.join();
    trial_result r;
    r.sent = snd.sent;
    r.send_secs = snd.secs;
    r.got = got[0] + got[1];
    for (int i = 0; i < Lanes; ++i) r.cpu_ns += cpu[i];
    const auto last = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_rx_ns.load()));
    r.secs = std::chrono::duration<double>(last - t0).count();
    report(state, r);
    per_queue[0] += got[0];
    per_queue[1] += got[1];
    if (got[0] == 0 || got[1] == 0) state.SkipWithError("the flows did not spread: a queue received nothing");
  }
  std::uint64_t fill_empty = 0, ring_full = 0, dropped = 0;
  for (auto& p : ports) {
    ringlab::backends::afxdp::xdp_stats st;
    p->statistics(st);
    fill_empty += st.rx_fill_ring_empty_descs;
    ring_full += st.rx_ring_full;
    dropped += st.rx_dropped;
  }
  state.counters["xsk_fill_empty"] = double(fill_empty);
  state.counters["xsk_rx_ring_full"] = double(ring_full);
  state.counters["xsk_rx_dropped"] = double(dropped);
  state.counters["veth_dropped"] = double(veth_dropped(world_2q()) - veth_dropped0);
  state.counters["queue0_received"] = double(per_queue[0]);
  state.counters["queue1_received"] = double(per_queue[1]);
  state.SetLabel(std::string("afxdp:") + world_2q().if_a + " 2 queues, " + std::to_string(Lanes) +
                 (Lanes == 1 ? " lane (one thread, both queues)" : " lanes (a thread per queue)") + ", 16 flows");
}

}  // namespace

// Five repetitions of each row (RINGLAB_VETH_RX_REPETITIONS to change it: the smoke test runs one),
// one trial each; the report takes medians and min-max.
int repetitions() {
  const char* e = std::getenv("RINGLAB_VETH_RX_REPETITIONS");
  const int n = e ? std::atoi(e) : 5;
  return n > 0 ? n : 5;
}
#define VETH_ROW(fn, name) \
  BENCHMARK(fn)->Name(name)->Iterations(1)->Repetitions(repetitions())->UseManualTime()->Unit(benchmark::kMillisecond)
VETH_ROW(kernel_recvmmsg, "kernel_recvmmsg");
VETH_ROW(asio_udp<false>, "asio_epoll");
VETH_ROW(asio_udp<true>, "asio_uring");
VETH_ROW(afxdp<style::poll>, "afxdp_poll");
VETH_ROW(afxdp<style::spin>, "afxdp_spin");
VETH_ROW(afxdp<style::busy_poll>, "afxdp_busy_poll");
VETH_ROW(dpdk_af_xdp<style::spin>, "dpdk_af_xdp_spin");
VETH_ROW(dpdk_af_xdp<style::busy_poll>, "dpdk_af_xdp_busy_poll");
VETH_ROW(afxdp_2q_lanes<1>, "afxdp_2q_lanes:1");
VETH_ROW(afxdp_2q_lanes<2>, "afxdp_2q_lanes:2");

BENCHMARK_MAIN();
