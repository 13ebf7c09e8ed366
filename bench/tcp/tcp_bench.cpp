// The TCP engine's cost (issue 12 point 7), two tcp::connections over an in-memory wire that loses
// nothing (engine_pair.hpp: no bytes emitted or parsed, no checksum: the engine's share alone):
//   rx/data_segment           b.on_segment() of one full data segment (1448 bytes of payload, timestamps
//                             on) in ESTABLISHED, including the ACK it sends (every second segment,
//                             as RFC 5681's delayed ACK does) into the sink. 32 segments a batch.
//                             Counters: read_ns_per_seg (the application's receive() copying them
//                             out), ack_ns_per_seg (a taking the ACKs), acks_per_seg, allocs_per_seg.
//   tx/data_segment           a.send() of one full segment's bytes (32 calls a batch), from the call to
//                             the sink: the copy into the send buffer, the segment built, its payload
//                             copied to a frame. (One segment a call: a larger send() copies with
//                             `rep movsb`, which callgrind counts one instruction per byte.)
//   conn/setup_teardown       per connection: both connection objects built, SYN .. ESTABLISHED, a
//                             closes, b closes, FIN/ACK both ways (a ends in TIME_WAIT, b CLOSED),
//                             both destroyed. TIME_WAIT's 2*MSL is not waited out (not counted).
//                             Counters: segments_per_conn, allocs_per_conn, and the memory of an
//                             idle ESTABLISHED connection: sizeof_connection, heap_bytes_idle.
//   bulk/engine               8 MiB a -> b per iteration on ONE core: a's send(), b's segments, the
//                             application's receive(), a's ACKs, all on this thread (virtual time).
//                             items are MSS-sized units (1448 bytes): ns per item = ns per MSS.
//                             Counter: peak_buffer_bytes (both connections' buffers at their largest).
//   bulk/stack                the same 8 MiB between two stack::interfaces (stack_bulk.cpp): tcp_socket
//                             send/receive, the engine, ip_output, checksums in software, frames through
//                             an in-memory port pair, rx_pipeline's parse and 4-tuple lookup.
//   bulk/kernel_loopback      the same 8 MiB through Linux TCP over loopback, one thread doing both
//                             ends (non-blocking send() until EAGAIN, then recv() until EAGAIN): on
//                             loopback the receive side runs in the sender's softirq, so this too is
//                             the whole path on one core. /mss:1460 sets TCP_MAXSEG as our MSS.
// What is and is not like for like in the bulk rows: both move the same bytes from one application
// buffer to another on one core, with copies in and out of socket buffers, ACKs, windows, congestion
// control. The kernel also does IP, the loopback device and syscalls, but loopback skips checksums
// and uses GSO/GRO: one 64 KiB skb carries many MSS-sized segments through the stack (even with
// TCP_MAXSEG 1460), while the engine handles every 1448-byte segment and every ACK one by one. The
// engine rows leave out the wire (parse, checksum, IP, frames): bulk/stack (two stack::interfaces)
// adds them.
//
// Time: rx, tx and conn time windows of 32 segments (8 connections) with the steady clock, 16 windows
// an iteration, and count the median window (a window the shared VM preempted does not count); the
// bulk rows count the thread's CPU time per 8 MiB (on loopback the kernel's softirq work runs on this
// thread and, without IRQ time accounting, is charged to it). ns per item is per segment, per
// connection, or per 1448 bytes of bulk payload.
//
// With `--callgrind rx|tx|conn N` the program instead runs N segments (connections) of that row under
// callgrind's collection (bench/tcp/callgrind_tcp.sh prints instructions per segment).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "bench/callgrind.hpp"
#include "bench/cpu.hpp"
#include "bench/tcp/engine_pair.hpp"
#include "bench/tcp/stack_bulk.hpp"

// Heap allocations and live bytes, counted (operator new replaced in this binary).
namespace {
std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::int64_t> g_live{0};
}  // namespace
void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_live.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept {
  if (p) g_live.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

using namespace ringlab;
using namespace ringlab::bench::tcp;

constexpr std::size_t batch = 32;                  // segments per timed batch
constexpr std::size_t bulk_bytes = 8u << 20;       // per bulk iteration
constexpr double mss_unit = 1448.0;                // the payload of one segment with timestamps

std::uint64_t clock_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + (i >> 8));
  return v;
}

// An established pair past slow start (cwnd well above a batch), buffers empty.
bool warm(engine_pair& p, std::span<const std::byte> data, std::span<std::byte> app) {
  if (!p.open()) return false;
  for (int i = 0; i < 200; ++i) p.bulk_round(data, app);
  return p.settle(app) && p.a->cwnd() >= batch * p.a->send_mss();
}

// ---------------------------------------------------------------- rx / tx per segment
// One batch: a queues `batch` full segments; `measure` says which part is timed. Returns the data
// segments that crossed (batch, unless something is wrong).
struct batch_times {
  std::uint64_t send = 0, deliver = 0, read = 0, acks = 0;
  std::size_t segments = 0, acks_sent = 0;
};
batch_times one_batch(engine_pair& p, std::span<const std::byte> data, std::span<std::byte> app) {
  batch_times t;
  const std::size_t mss = p.a->send_mss();
  const std::uint64_t t0 = clock_ns();
  for (std::size_t k = 0; k < batch; ++k) p.a->send(data.subspan(k * mss, mss), p.now, p.sink_a());
  const std::uint64_t t1 = clock_ns();
  t.segments = p.ab.size();
  const std::uint64_t acks_before = p.ba.pushed();
  p.deliver_ab();
  const std::uint64_t t2 = clock_ns();
  p.read_b(app);
  const std::uint64_t t3 = clock_ns();
  t.acks_sent = p.ba.pushed() - acks_before;
  p.deliver_ba();
  const std::uint64_t t4 = clock_ns();
  p.now += p.step;
  p.timers();
  t.send = t1 - t0, t.deliver = t2 - t1, t.read = t3 - t2, t.acks = t4 - t3;
  return t;
}

// An iteration's time from `windows` timed windows: the median window's time times their number. On
// these shared 2-vCPU VMs a window the hypervisor or another process preempted takes many times its
// cost; the median leaves those out, the sum would not. (The thread's CPU clock is no help at this
// grain: a CLOCK_THREAD_CPUTIME_ID read costs over a microsecond here, a syscall.)
double median_times(std::vector<std::uint64_t>& w) {
  std::nth_element(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(w.size() / 2), w.end());
  return static_cast<double>(w[w.size() / 2]) * static_cast<double>(w.size()) * 1e-9;
}
constexpr std::size_t windows = 16;   // timed windows per iteration

void per_segment(benchmark::State& st, bool rx) {
  engine_pair p;
  const auto data = pattern(batch * 2048);
  std::vector<std::byte> app(512 * 1024);
  if (!warm(p, data, app)) return st.SkipWithError("the pair did not establish or warm up");
  std::uint64_t segs = 0, acks = 0, send_ns = 0, deliver_ns = 0, read_ns = 0, ack_ns = 0;
  const std::uint64_t allocs0 = g_allocs.load();
  std::vector<std::uint64_t> w(windows);
  for (auto _ : st) {
    for (std::size_t k = 0; k < windows; ++k) {
      const batch_times t = one_batch(p, data, app);
      if (t.segments != batch) return st.SkipWithError("a batch did not go out whole (window or cwnd)");
      segs += t.segments, acks += t.acks_sent;
      send_ns += t.send, deliver_ns += t.deliver, read_ns += t.read, ack_ns += t.acks;
      w[k] = rx ? t.deliver : t.send;
    }
    st.SetIterationTime(median_times(w));
  }
  const double n = static_cast<double>(segs);
  st.SetItemsProcessed(static_cast<std::int64_t>(segs));
  st.counters["acks_per_seg"] = static_cast<double>(acks) / n;
  st.counters["allocs_per_seg"] = static_cast<double>(g_allocs.load() - allocs0) / n;
  if (rx) {
    st.counters["read_ns_per_seg"] = static_cast<double>(read_ns) / n;
    st.counters["ack_ns_per_seg"] = static_cast<double>(ack_ns) / n;
  } else {
    st.counters["rx_ns_per_seg"] = static_cast<double>(deliver_ns) / n;
  }
  if (p.b->counters().bytes_received != p.a->counters().bytes_acked)
    st.SkipWithError("bytes received and acknowledged differ");
}

// ---------------------------------------------------------------- setup and teardown
void conn_setup_teardown(benchmark::State& st) {
  engine_pair p;
  std::uint32_t iss = 1;
  std::uint64_t conns = 0;
  // The memory of one idle ESTABLISHED connection pair (the connections live in optionals: what the
  // heap gains is what they allocate).
  const std::int64_t live0 = g_live.load();
  if (!p.open(iss, iss + 7777)) return st.SkipWithError("handshake failed");
  const std::int64_t heap_idle = g_live.load() - live0;
  const std::size_t buffers_idle = p.a->buffer_memory() + p.b->buffer_memory();
  p.a.reset();
  p.b.reset();
  const std::uint64_t allocs0 = g_allocs.load(), segs0 = p.ab.pushed() + p.ba.pushed();
  std::vector<std::uint64_t> w(windows);
  constexpr int per_window = 8;
  for (auto _ : st) {
    for (std::size_t k = 0; k < windows; ++k) {
      const std::uint64_t t0 = clock_ns();
      for (int c = 0; c < per_window; ++c) {
        iss += 100000;
        if (!p.open(iss, iss * 3)) return st.SkipWithError("handshake failed");
        if (!p.close()) return st.SkipWithError("close did not end in TIME_WAIT / CLOSED");
        p.a.reset();
        p.b.reset();
      }
      w[k] = clock_ns() - t0;
      conns += per_window;
    }
    st.SetIterationTime(median_times(w));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(conns));
  st.counters["segments_per_conn"] = static_cast<double>(p.ab.pushed() + p.ba.pushed() - segs0) / static_cast<double>(conns);
  st.counters["allocs_per_conn"] = static_cast<double>(g_allocs.load() - allocs0) / static_cast<double>(conns);
  st.counters["sizeof_connection"] = static_cast<double>(sizeof(connection));
  st.counters["heap_bytes_idle"] = static_cast<double>(heap_idle) / 2;   // per connection
  st.counters["buffer_bytes_idle"] = static_cast<double>(buffers_idle) / 2;
}

// ---------------------------------------------------------------- bulk, one core
void bulk_engine(benchmark::State& st) {
  engine_pair p;
  const auto data = pattern(64 * 1024);
  std::vector<std::byte> app(64 * 1024);
  if (!p.open()) return st.SkipWithError("handshake failed");
  std::uint64_t bytes = 0;
  std::size_t peak = 0;
  for (auto _ : st) {
    const std::uint64_t c0 = bench::thread_cpu_ns();
    std::size_t got = 0;
    while (got < bulk_bytes) {
      got += p.bulk_round(data, app);
      peak = std::max(peak, p.a->buffer_memory() + p.b->buffer_memory());
    }
    st.SetIterationTime(static_cast<double>(bench::thread_cpu_ns() - c0) * 1e-9);
    bytes += got;
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  st.SetItemsProcessed(static_cast<std::int64_t>(static_cast<double>(bytes) / mss_unit));
  st.counters["peak_buffer_bytes"] = static_cast<double>(peak);
  st.counters["retrans_segs"] = static_cast<double>(p.a->counters().retrans_segs);
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

void bulk_kernel(benchmark::State& st, int maxseg) {
  fd_guard lst, cli, srv;
  lst.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (maxseg) setsockopt(lst.fd, IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof maxseg);
  if (lst.fd < 0 || ::bind(lst.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lst.fd, 1) != 0 ||
      ::getsockname(lst.fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return st.SkipWithError(("loopback listener: " + std::string(std::strerror(errno))).c_str());
  cli.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (maxseg && setsockopt(cli.fd, IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof maxseg) != 0)
    return st.SkipWithError(("TCP_MAXSEG: " + std::string(std::strerror(errno))).c_str());
  if (::connect(cli.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (srv.fd = ::accept(lst.fd, nullptr, nullptr)) < 0)
    return st.SkipWithError(("loopback connect: " + std::string(std::strerror(errno))).c_str());
  ::fcntl(cli.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(srv.fd, F_SETFL, O_NONBLOCK);
  const auto data = pattern(64 * 1024);
  std::vector<std::byte> app(64 * 1024);
  std::uint64_t bytes = 0;
  for (auto _ : st) {
    const std::uint64_t c0 = bench::thread_cpu_ns();
    std::size_t sent = 0, got = 0;
    while (got < bulk_bytes) {
      while (sent < bulk_bytes) {
        const ssize_t n = ::send(cli.fd, data.data(), std::min(data.size(), bulk_bytes - sent), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
          return st.SkipWithError(("loopback send: " + std::string(std::strerror(errno))).c_str());
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      for (;;) {
        const ssize_t n = ::recv(srv.fd, app.data(), app.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
          return st.SkipWithError(n == 0 ? "loopback recv: end of stream" : ("loopback recv: " + std::string(std::strerror(errno))).c_str());
        if (n < 0) break;
        got += static_cast<std::size_t>(n);
      }
    }
    st.SetIterationTime(static_cast<double>(bench::thread_cpu_ns() - c0) * 1e-9);
    bytes += got;
  }
  int mss = 0;
  socklen_t ml = sizeof mss;
  getsockopt(cli.fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &ml);
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  st.SetItemsProcessed(static_cast<std::int64_t>(static_cast<double>(bytes) / mss_unit));
  st.counters["kernel_mss"] = mss;
}

// ---------------------------------------------------------------- callgrind
// N data segments (rx: b's on_segment + its ACKs; tx: a's send() to the sink), or N connections
// (conn), under callgrind's collection; everything else (warm-up, the other side) outside it.
int callgrind_run(const std::string& mode, std::uint64_t n) {
  engine_pair p;
  const auto data = pattern(batch * 2048);
  std::vector<std::byte> app(512 * 1024);
  std::uint64_t done = 0;
  if (mode == "conn") {
    for (std::uint32_t iss = 1; done < n + 64; iss += 100000, ++done) {   // 64 untimed first
      if (done == 64) CALLGRIND_TOGGLE_COLLECT;
      if (!p.open(iss, iss * 3) || !p.close()) return std::fprintf(stderr, "callgrind: connection failed\n"), 1;
      p.a.reset();
      p.b.reset();
    }
    CALLGRIND_TOGGLE_COLLECT;
    std::printf("connections: %llu\n", static_cast<unsigned long long>(n));
    return 0;
  }
  if (mode != "rx" && mode != "tx") return std::fprintf(stderr, "bench_tcp --callgrind: mode rx, tx or conn\n"), 2;
  if (!warm(p, data, app)) return std::fprintf(stderr, "callgrind: warm-up failed\n"), 1;
  for (int i = 0; i < 16; ++i) one_batch(p, data, app);   // the chunk caches and code paths warm
  const std::size_t mss = p.a->send_mss();
  std::uint64_t segs = 0;
  while (segs < n) {
    if (mode == "tx") CALLGRIND_TOGGLE_COLLECT;
    for (std::size_t k = 0; k < batch; ++k)
      p.a->send(std::span<const std::byte>(data).subspan(k * mss, mss), p.now, p.sink_a());
    if (mode == "tx") CALLGRIND_TOGGLE_COLLECT;
    segs += p.ab.size();
    if (mode == "rx") CALLGRIND_TOGGLE_COLLECT;
    p.deliver_ab();
    if (mode == "rx") CALLGRIND_TOGGLE_COLLECT;
    p.read_b(app);
    p.deliver_ba();
    p.now += p.step;
    p.timers();
  }
  std::printf("segments: %llu\nsegment payload: %u\n", static_cast<unsigned long long>(segs),
              static_cast<unsigned>(p.a->send_mss()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--callgrind") == 0) {
    if (argc < 3) return std::fprintf(stderr, "usage: bench_tcp --callgrind rx|tx|conn [N]\n"), 2;
    if (!RINGLAB_HAVE_CALLGRIND) return std::fprintf(stderr, "bench_tcp: built without <valgrind/callgrind.h>\n"), 77;
    return callgrind_run(argv[2], argc >= 4 ? std::strtoull(argv[3], nullptr, 10) : 3200);
  }
  benchmark::RegisterBenchmark("rx/data_segment", [](benchmark::State& st) { per_segment(st, true); })->UseManualTime();
  benchmark::RegisterBenchmark("tx/data_segment", [](benchmark::State& st) { per_segment(st, false); })->UseManualTime();
  benchmark::RegisterBenchmark("conn/setup_teardown", conn_setup_teardown)->UseManualTime();
  benchmark::RegisterBenchmark("bulk/engine", bulk_engine)->UseManualTime();
  benchmark::RegisterBenchmark("bulk/stack", [](benchmark::State& st) { bench::tcp::bulk_stack(st, bulk_bytes, mss_unit); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("bulk/kernel_loopback", [](benchmark::State& st) { bulk_kernel(st, 0); })->UseManualTime();
  benchmark::RegisterBenchmark("bulk/kernel_loopback/mss:1460", [](benchmark::State& st) { bulk_kernel(st, 1460); })
      ->UseManualTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
