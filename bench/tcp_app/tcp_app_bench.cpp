// TCP apps vs the kernel (issue 13 point 6): the SAME application (app.hpp, a template over the socket
// and acceptor types) over kernel TCP and over our bypass TCP, two pairs side by side in one run:
//
//   MODE/kernel_loopback   asio::ip::tcp over 127.0.0.1                        } pair 1: the baseline
//   MODE/bypass_sim        bypass::tcp over two sim_nics joined by sim's wire  }   is kernel_loopback
//                          with sim's TX checksum offload (as loopback's CHECKSUM_PARTIAL)
//   MODE/bypass_sim_sw     the same without it: every checksum computed and verified in software
//   MODE/kernel_veth       asio::ip::tcp, server in ns a, client in ns b of a veth pair   } pair 2: the
//   MODE/bypass_afxdp      the server bypass::tcp on our AF_XDP port (copy mode) on the  }   baseline is
//                          ns-a end of another such pair; the client the kernel's TCP     }   kernel_veth
//
// MODE:
//   rr     request/response, one connection kept alive: 64 B each way, the reply checked byte for byte;
//          1000 transactions an iteration. Unit: a transaction.
//   short  a connection per transaction: connect, 64 B request, 64 B reply (checked), the server
//          closes, the client reads eof and closes; 100 an iteration. Unit: a connection.
//   bulk   one connection, client -> server, 64 KiB writes, 8 MiB an iteration, the server reading
//          64 KiB at a time and counting. Unit: 1 MB (10^6 bytes) received.
//
// ONE thread runs both ends (worlds.hpp: drive() turns the client's io_context, then the server's),
// both busy-polled: kernel io_contexts with poll() (epoll_wait with timeout 0), bypass lanes with their
// busy_poll handler. So the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over an iteration is both
// ends' work: the application, Asio, and the stack, ours or the kernel's (loopback and veth hand a
// segment to the receiver in the sender's softirq, on this thread, charged to it: this kernel has no
// IRQ time accounting). Nothing sleeps, so CPU time ~ wall time unless the VM takes the core away.
//
// Counters (per repetition):
//   cpu_ns_per_op   the headline: thread CPU ns per unit (both ends)
//   per_core_ops    units per CPU-second (= 1e9 / cpu_ns_per_op): transactions/s, connections/s or MB/s per core
//   wall_ops_per_s  units per wall-clock second
//   frames_per_op   bypass_sim only: frames both NICs sent per unit (segments on the wire)
//   train_frames_per_op  bypass_sim only: of those, frames built from a segment train's one header
//   retrans         bypass_sim: both stacks' retransmitted segments over the timed iterations
//   client_retrans, server_retrans, xsk_rx_dropped, xsk_fill_empty, xsk_tx_ring_full: the veth rows'
//                   kernel client's RetransSegs (its namespace), and on bypass_afxdp our stack's and
//                   the AF_XDP socket's drops, over the timed iterations
// items_per_second is per CPU-second (the manual time is the CPU time).
//
// With `--callgrind rr|short|bulk N` the program instead runs N units (bulk: N MB) of the bypass_sim row
// under callgrind's collection (bench/tcp_app/callgrind_tcp_app.sh prints instructions per transaction /
// connection / MB).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "bench/callgrind.hpp"
#include "bench/cpu.hpp"
#include "bench/tcp_app/app.hpp"
#include "bench/tcp_app/worlds.hpp"

namespace ta = ringlab::bench::tcp_app;
using ringlab::bench::thread_cpu_ns;

namespace {

constexpr std::uint64_t rr_batch = 1000, short_batch = 100, bulk_chunks = 128;   // per iteration
constexpr double mb = 1e6;

// CPU and wall time over the timed iterations, and the units they did.
struct meter {
  std::uint64_t cpu_ns = 0, wall_ns = 0;
  double units = 0;
  std::uint64_t c0 = 0;
  std::chrono::steady_clock::time_point w0;
  void start() {
    w0 = std::chrono::steady_clock::now();
    c0 = thread_cpu_ns();
  }
  void stop(benchmark::State& st, double u) {
    const std::uint64_t c = thread_cpu_ns() - c0;
    wall_ns += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w0).count());
    cpu_ns += c;
    units += u;
    st.SetIterationTime(static_cast<double>(c) * 1e-9);
  }
  void report(benchmark::State& st) const {
    if (units <= 0) return;
    st.counters["cpu_ns_per_op"] = static_cast<double>(cpu_ns) / units;
    st.counters["per_core_ops"] = units * 1e9 / static_cast<double>(cpu_ns ? cpu_ns : 1);
    st.counters["wall_ops_per_s"] = units * 1e9 / static_cast<double>(wall_ns ? wall_ns : 1);
  }
};

// The world's diagnostic counters (retransmissions, drops, frames), if it has any.
template <class W>
std::map<std::string, double> diag_of(W& w) {
  if constexpr (requires { w.diag(); }) return w.diag();
  else return {};
}
// Their change over the timed iterations: frames per unit, the others as counts.
void diag_counters(benchmark::State& st, const std::map<std::string, double>& before,
                   const std::map<std::string, double>& after, double units) {
  for (const auto& [k, v] : after) {
    const auto b = before.find(k);
    const double d = v - (b == before.end() ? 0 : b->second);
    if (k == "frames" || k == "train_frames") {
      if (units > 0) st.counters[k + "_per_op"] = d / units;
    } else {
      st.counters[k] = d;
    }
  }
}

// The server made in its namespace; the thread then stays in the client's for the run.
template <class W>
struct setup {
  W w;
  ta::app_status status;
  std::optional<ringlab::netlab::enter> in;
  std::optional<ta::echo_server<typename W::acceptor, typename W::server_socket>> server;
  explicit setup(ta::server_mode mode) {
    ringlab::bench::pin_to_cpu(0);   // one thread, both ends: no migration between the two vCPUs
    if (!w.why.empty()) return;
    w.enter_server(in);
    server.emplace(w.server.ctx, w.listen_at(), mode, status);
    in.reset();
    w.enter_client(in);
    server->start();
  }
  asio::ip::tcp::endpoint at() const { return server->local_endpoint().port() ? server->local_endpoint() : w.listen_at(); }
  template <class Done>
  bool drive(Done done) {
    return ta::drive(w.client, w.server, status, done);
  }
  // Skips with the reason: the machine lacks something (why), or the app failed.
  bool skip(benchmark::State& st) {
    if (!w.why.empty()) st.SkipWithError(("not measured here: " + w.why).c_str());
    else if (status.failed) st.SkipWithError(status.error.c_str());
    else return false;
    return true;
  }
};

// The timed part every row shares: per iteration start() one batch and drive until done(); `units`
// per batch. Reports the meter, the world's diagnostic counters and the label; false: skipped.
template <class S, class Start, class Done>
bool timed(benchmark::State& st, S& s, double units, Start start, Done done) {
  meter m;
  const auto d0 = diag_of(s.w);
  for (auto _ : st) {
    m.start();   // before start(): the batch's first operations run inside their initiating calls
    auto ready = start();
    if (!s.drive([&] { return done(ready); })) return !s.skip(st);
    m.stop(st, units);
  }
  m.report(st);
  diag_counters(st, d0, diag_of(s.w), m.units);
  st.SetItemsProcessed(static_cast<std::int64_t>(m.units));
  st.SetLabel(s.w.label());
  return true;
}

template <class W>
void rr(benchmark::State& st) {
  setup<W> s(ta::server_mode::echo);
  if (s.skip(st)) return;
  ta::rr_client<typename W::client_socket> c(s.w.client.ctx, s.at(), s.status);
  c.connect();
  if (!s.drive([&] { return c.connected(); })) return (void)s.skip(st);
  c.run(100);   // warm-up: caches, the congestion window
  if (!s.drive([&] { return c.idle(); })) return (void)s.skip(st);
  timed(st, s, rr_batch, [&] { return c.run(rr_batch), 0; }, [&](int) { return c.idle(); });
}

template <class W>
void short_conn(benchmark::State& st) {
  setup<W> s(ta::server_mode::close_after_reply);
  if (s.skip(st)) return;
  ta::short_client<typename W::client_socket> c(s.w.client.ctx, s.at(), s.status);
  c.run(20);
  if (!s.drive([&] { return c.idle(); })) return (void)s.skip(st);
  if (!timed(st, s, short_batch, [&] { return c.run(short_batch), 0; }, [&](int) { return c.idle(); })) return;
  if (s.server->accepted() != c.done()) st.SkipWithError("the server accepted a different number of connections");
}

template <class W>
void bulk(benchmark::State& st) {
  setup<W> s(ta::server_mode::bulk);
  if (s.skip(st)) return;
  ta::bulk_client<typename W::client_socket> c(s.w.client.ctx, s.at(), s.status);
  c.connect();
  if (!s.drive([&] { return c.connected(); })) return (void)s.skip(st);
  c.run(16);   // warm-up: the congestion window opens
  if (!s.drive([&] { return s.server->bytes_in() >= 16 * ta::bulk_chunk; })) return (void)s.skip(st);
  // start() gives the server's byte count that ends the batch.
  const auto start = [&] {
    const std::uint64_t want = s.server->bytes_in() + bulk_chunks * ta::bulk_chunk;
    c.run(bulk_chunks);
    return want;
  };
  if (timed(st, s, static_cast<double>(bulk_chunks * ta::bulk_chunk) / mb, start,
            [&](std::uint64_t want) { return s.server->bytes_in() >= want; }))
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bulk_chunks * ta::bulk_chunk));
}

// ---------------------------------------------------------------- callgrind
using bypass_sim_socket = ta::bypass_sim_world::client_socket;

// `--callgrind rr|short|bulk N`: N transactions (connections; MB for bulk) of the bypass_sim row under
// callgrind's collection, both ends (bench/tcp_app/callgrind_tcp_app.sh prints instructions per unit).
// The connection, ARP and a warm-up (200 units; bulk: 16 chunks, the window open) run before collection.
// W: bypass_sim (sim's checksum offload) or, for the modes named MODE_sw, bypass_sim_sw.
template <class W>
int callgrind_run(const std::string& mode, std::uint64_t n) {
  const bool rr_mode = mode == "rr", bulk_mode = mode == "bulk";
  if (!rr_mode && !bulk_mode && mode != "short")
    return std::fprintf(stderr, "bench_tcp_app --callgrind: mode rr, short or bulk (or rr_sw, short_sw, bulk_sw)\n"), 2;
  setup<W> s(rr_mode ? ta::server_mode::echo
                                : bulk_mode ? ta::server_mode::bulk : ta::server_mode::close_after_reply);
  if (!s.w.why.empty()) return std::fprintf(stderr, "%s\n", s.w.why.c_str()), 1;
  // Runs `warm` units, then `units` under collection until done() says the last one arrived.
  auto measure = [&](auto& c, std::uint64_t warm, std::uint64_t units, auto done) {
    c.run(warm);
    if (!s.drive([&] { return done(); })) return false;
    const auto d0 = diag_of(s.w);
    CALLGRIND_TOGGLE_COLLECT;
    c.run(units);
    const bool ok = s.drive([&] { return done(); });
    CALLGRIND_TOGGLE_COLLECT;
    const auto d1 = diag_of(s.w);
    std::printf("frames: %.0f\ntrain frames: %.0f\nretransmissions: %.0f\n", d1.at("frames") - d0.at("frames"),
                d1.at("train_frames") - d0.at("train_frames"), d1.at("retrans") - d0.at("retrans"));
    return ok;
  };
  bool ok = false;
  std::uint64_t units = n;
  if (rr_mode) {
    ta::rr_client<bypass_sim_socket> c(s.w.client.ctx, s.at(), s.status);
    c.connect();
    ok = s.drive([&] { return c.connected(); }) && measure(c, 200, n, [&] { return c.idle(); });
  } else if (bulk_mode) {
    // N MB, in whole chunks: the unit printed is the MB (10^6 bytes) the server received.
    ta::bulk_client<bypass_sim_socket> c(s.w.client.ctx, s.at(), s.status);
    c.connect();
    const std::uint64_t chunks = (n * 1000000 + ta::bulk_chunk - 1) / ta::bulk_chunk;
    // Done when every chunk written so far (warm-up included) has reached the server's app.
    ok = s.drive([&] { return c.connected(); }) &&
         measure(c, 16, chunks, [&] { return c.idle() && s.server->bytes_in() >= c.done() * ta::bulk_chunk; });
    units = chunks * ta::bulk_chunk;   // printed as bytes; the script divides by 10^6
  } else {
    ta::short_client<bypass_sim_socket> c(s.w.client.ctx, s.at(), s.status);
    ok = measure(c, 200, n, [&] { return c.idle(); });
  }
  if (!ok) return std::fprintf(stderr, "bench_tcp_app --callgrind: %s\n", s.status.error.c_str()), 1;
  std::printf("%s: %llu\n", rr_mode ? "transactions" : bulk_mode ? "bytes" : "connections", static_cast<unsigned long long>(units));
  return 0;
}

// Every row is registered in every build: one the machine cannot run reports why (SkipWithError).
template <class W>
int register_rows() {
  const std::string n = W::name;
  benchmark::RegisterBenchmark(("rr/" + n).c_str(), rr<W>)->UseManualTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("short/" + n).c_str(), short_conn<W>)->UseManualTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("bulk/" + n).c_str(), bulk<W>)->UseManualTime()->Unit(benchmark::kMicrosecond);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--callgrind") == 0) {
    if (argc < 3) return std::fprintf(stderr, "usage: bench_tcp_app --callgrind rr|short|bulk[_sw] [N]\n"), 2;
    if (!RINGLAB_HAVE_CALLGRIND) return std::fprintf(stderr, "bench_tcp_app: built without <valgrind/callgrind.h>\n"), 77;
    const std::string mode = argv[2];
    const std::uint64_t n = argc >= 4 ? std::strtoull(argv[3], nullptr, 10) : 2000;
    if (mode.size() > 3 && mode.ends_with("_sw"))
      return callgrind_run<ta::bypass_sim_sw_world>(mode.substr(0, mode.size() - 3), n);
    return callgrind_run<ta::bypass_sim_world>(mode, n);
  }
  register_rows<ta::kernel_loopback_world>();
  register_rows<ta::bypass_sim_world>();
  register_rows<ta::bypass_sim_sw_world>();
  register_rows<ta::kernel_veth_world>();
  register_rows<ta::bypass_afxdp_world>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
