// ringlab replay: a pcap through sim_nic into per-queue RX rings of a chosen design, drained by one
// consumer per queue (a stack plugs in here later), with tcpreplay's pacing options, seeded faults,
// and a NIC-style counter summary at the end.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "trace/trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/faults_flag.hpp"
#include "tools/ringlab/trace_file.hpp"

namespace {

using namespace ringlab;

const std::vector<cli::option> opts = {
    {"ring", "NAME", "RX descriptor ring design: spsc, mpmc, netmap, umem, batch, boost-spsc, boost-mpmc, rte-ring", "spsc"},
    {"queues", "N", "RX queues; Toeplitz RSS (standard key, 128-entry RETA) spreads IPv4 flows over them", "1"},
    {"ring-size", "N", "descriptors per RX ring (rounded up to a power of two by most designs)", "1024"},
    {"pool-frames", "N", "frames in the packet pool (2048 B each, 256 B headroom)", "8192"},
    {"speed", "X", "replay at the recorded spacing divided by X (1 = as captured)"},
    {"pps", "N", "replay at a fixed N packets per second"},
    {"mbps", "N", "replay at a fixed N megabits per second (frame bytes x 8)"},
    {"loop", "N", "replay the trace N times", "1"},
    {"faults", "SPEC", "faults between the trace and the NIC, e.g. drop=0.01,dup=0.001,reorder=0.01:8,"
                       "corrupt=0.001,delay=50us,jitter=10us,seed=7 (seed= as --seed; both given must agree)"},
    {"seed", "S", "seed for the fault generator (same seed + trace = same output)", "1"},
    {"out", "FILE", "forward every received frame out of its queue (testpmd io-forward style) into this pcap, "
                    "each stamped with its own arrival time on the virtual clock"},
    {"clock", "KIND", "virtual: deterministic, one thread, ingest then poll, as fast as the CPU allows; real: "
                      "frames arrive at wall-clock pace (the recorded spacing, or --speed/--pps/--mbps) on an "
                      "ingest thread, one consumer thread per queue", "virtual"},
    {"mtu", "N", "largest L3 packet; longer frames count as oversize errors", "1500"},
    {"trace", "", "record trace events at every hop and print their count and hash"},
    {"hash", "", "print an FNV-1a hash over every delivered frame (queue, packet id, time, bytes)"},
    {"progress", "", "show a progress bar on stderr even when it is not a terminal"},
    {"drops", "N", "list the first N dropped frames with packet number and byte offset", "10"},
};

constexpr const char* synopsis =
    "FILE [--ring NAME] [--queues N] [--speed X | --pps N | --mbps N] [--loop N] [--faults SPEC] [--seed S] "
    "[--out out.pcap] [--clock virtual|real]";
constexpr const char* description =
    "Replays FILE (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2 and raw IP, the latter converted to\n"
    "Ethernet) through the simulated NIC: each frame is copied once into a pool frame, hashed to a queue\n"
    "by RSS and written to that queue's RX descriptor ring. Without a stack, each queue's consumer drains\n"
    "and releases its frames. Without --speed/--pps/--mbps frames go as fast as possible, stamped with\n"
    "their recorded times (--clock real: at the recorded spacing). At the end a per-queue counter\n"
    "summary: ipackets, ibytes, imissed (ring full), rx_nombuf (pool empty), opackets; errors runt,\n"
    "oversize, snaplen-truncated; fault counts. Pool frames not returned at the end fail the run (exit 1).\n"
    "FILE is streamed, never loaded whole: memory stays flat however large it is; a record that cannot be\n"
    "read (a file cut mid-record) ends the replay there: the summary of what was replayed, then the error\n"
    "with its packet number and byte offset (exit 1: the run failed partway).";

struct fnv {
  std::uint64_t h = 1469598103934665603ull;
  void mix(const void* p, std::size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  }
  void mix64(std::uint64_t v) { mix(&v, sizeof v); }
};

class progress_bar {
 public:
  progress_bar(bool on, std::uint64_t total) : on_(on), total_(total) {}   // total 0: not known yet
  void set_total(std::uint64_t total) { total_ = total; }
  void update(std::uint64_t done, bool force = false) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    if (!total_) {   // a stream's first pass: the frame count is not known yet
      std::fprintf(stderr, "\r%" PRIu64 " frames", done);
      std::fflush(stderr);
      return;
    }
    const int width = 40;
    const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const int fill = static_cast<int>(f * width);
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %" PRIu64 "/%" PRIu64 " frames", fill,
                 "========================================", width - fill, "", static_cast<int>(f * 100), done, total_);
    std::fflush(stderr);
  }
  void finish(std::uint64_t done) {
    if (!on_) return;
    update(done, true);
    std::fputc('\n', stderr);
  }

 private:
  bool on_;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point last_{};
};

// The consumer of one queue: drains, optionally forwards to TX, releases; hashes what it saw.
struct consumer {
  sim::queue_port* q = nullptr;
  bool forward = false;
  bool hash = false;
  fnv h;
  std::uint64_t frames = 0;

  std::size_t poll() {
    port::frame_ref f[32];
    const std::size_t n = q->rx_burst(f);
    if (!n) return 0;
    frames += n;
    if (hash)
      for (std::size_t i = 0; i < n; ++i) {
        h.mix64(f[i].meta.queue); h.mix64(f[i].meta.packet_id); h.mix64(f[i].meta.t_ns);
        h.mix(f[i].bytes.data(), f[i].bytes.size());
      }
    if (forward) {
      port::tx_batch b = q->tx_reserve(n);
      for (std::size_t i = 0; i < b.size(); ++i) {
        std::memcpy(b[i].bytes.data(), f[i].bytes.data(), f[i].bytes.size());
        b[i].bytes = b[i].bytes.first(f[i].bytes.size());
      }
      b.commit(b.size());
    }
    q->rx_release({f, n});
    return n;
  }
};

void print_summary(const sim::sim_nic& nic, const std::vector<consumer>& cons, double secs, std::size_t max_drops) {
  const auto k = nic.counters();
  std::printf("%-6s %12s %14s %10s %10s %12s %10s\n", "queue", "ipackets", "ibytes", "imissed", "rx_nombuf",
              "delivered", "opackets");
  for (std::size_t q = 0; q < k.queue.size(); ++q)
    std::printf("%-6zu %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", q,
                k.queue[q].ipackets, k.queue[q].ibytes, k.queue[q].imissed, k.queue[q].rx_nombuf, cons[q].frames,
                k.queue[q].opackets);
  std::uint64_t delivered = 0;
  for (const auto& c : cons) delivered += c.frames;
  std::printf("%-6s %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", "total",
              k.total.ipackets, k.total.ibytes, k.total.imissed, k.total.rx_nombuf, delivered, k.total.opackets);
  std::printf("trace frames %" PRIu64 ", ierrors %" PRIu64 " (runt %" PRIu64 ", oversize %" PRIu64
              ", snaplen-truncated %" PRIu64 ")\n",
              k.trace_frames, k.ierrors(), k.rx_runt, k.rx_oversize, k.rx_snap_truncated);
  if (k.rx_faults.in)
    std::printf("faults: in %" PRIu64 ", dropped %" PRIu64 ", duplicated %" PRIu64 ", reordered %" PRIu64
                ", corrupted %" PRIu64 ", delayed %" PRIu64 "\n",
                k.rx_faults.in, k.rx_faults.dropped, k.rx_faults.duplicated, k.rx_faults.reordered,
                k.rx_faults.corrupted, k.rx_faults.delayed);
  const auto drops = nic.drop_log();
  for (std::size_t i = 0; i < drops.size() && i < max_drops; ++i) std::printf("drop: %s\n", drops[i].to_string().c_str());
  if (secs > 0)
    std::printf("wall time %.3f s, %.2f Mpps delivered\n", secs, static_cast<double>(delivered) / secs / 1e6);
}

int run(int argc, char** argv) {
  cli::args a("replay", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("replay", synopsis, description, opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(1, "one FILE, the pcap");
  if (a.positional().empty()) throw cli::usage_error{"FILE (the pcap to replay) is missing (see --help)"};
  const std::string file = a.positional()[0];

  sim::sim_nic_config cfg;
  cfg.name = "sim_nic";
  cfg.ring = a.str("ring");
  cfg.queues = static_cast<std::uint16_t>(a.u64("queues", 1, 256));
  cfg.ring_size = static_cast<std::uint32_t>(a.u64("ring-size", 2, 1u << 24));
  cfg.pool.frames = static_cast<std::uint32_t>(a.u64("pool-frames", 1, 1u << 22));
  cfg.mtu = static_cast<std::uint32_t>(a.u64("mtu", 68, 65535));
  cfg.timing.loops = static_cast<std::uint32_t>(a.u64("loop", 1, 1u << 30));
  cfg.seed = a.u64("seed");
  const int pacing_opts = a.has("speed") + a.has("pps") + a.has("mbps");
  if (pacing_opts > 1) throw cli::usage_error{"--speed, --pps and --mbps exclude each other: give one"};
  if (a.has("speed")) { cfg.timing.mode = sim::pacing::recorded; cfg.timing.speed = a.real("speed", 1e-6, 1e9); }
  if (a.has("pps")) { cfg.timing.mode = sim::pacing::pps; cfg.timing.pps = a.real("pps", 1e-3, 1e12); }
  if (a.has("mbps")) { cfg.timing.mode = sim::pacing::mbps; cfg.timing.mbps = a.real("mbps", 1e-6, 1e9); }
  if (auto f = cli::faults_flag(a)) {
    if (!f->rx) throw cli::usage_error{"--faults: dir=tx does not apply to replay (its faults act between the trace and the NIC)"};
    cfg.rx_faults = f->spec;
    if (f->seed) cfg.seed = *f->seed;
  }
  const std::string clock = a.str("clock");
  if (clock != "virtual" && clock != "real") throw cli::usage_error{"--clock: '" + clock + "' is not virtual or real"};
  // Wall-clock pace means the recorded spacing unless a rate was given (as-fast-as-possible is the
  // virtual clock's job).
  if (clock == "real" && pacing_opts == 0) { cfg.timing.mode = sim::pacing::recorded; cfg.timing.speed = 1; }
  const bool forward = a.has("out");
  if (forward) cfg.tx_pcap = a.str("out");
  const std::size_t max_drops = a.u64("drops", 0, 1u << 20);

  // The file is streamed (sim_nic/pcap_stream.hpp): memory stays flat however large it is; a record
  // that cannot be read ends the replay with the error naming its packet number and byte offset.
  // (tools/ringlab/trace_file.hpp: the demo, mcast-recv --backend sim and trace replay open theirs the same way.)
  sim::pcap_stream trace_file = cli::open_trace_stream(file);

  std::unique_ptr<sim::sim_nic> nic;
  try {
    nic = std::make_unique<sim::sim_nic>(cfg);
  } catch (const std::invalid_argument& e) {
    throw cli::usage_error{std::string("--ring: ") + e.what()};
  } catch (const std::runtime_error& e) {
    throw cli::usage_error{std::string("--out: ") + e.what()};
  }
  nic->load(trace_file);
  if (a.has("trace")) { trace::drain(); trace::enable(true); }

  std::vector<consumer> cons(cfg.queues);
  for (std::uint16_t q = 0; q < cfg.queues; ++q) {
    cons[q].q = &nic->queue(q);
    cons[q].forward = forward;
    cons[q].hash = a.has("hash");
  }
  const std::uint64_t total = nic->trace_frames_total();
  progress_bar bar(a.has("progress") || ::isatty(2), total);
  const auto t0 = std::chrono::steady_clock::now();

  if (clock == "virtual") {
    // Ingest a ring's worth, then poll every queue: deterministic and loss-free when the rings keep up.
    // With --out, one frame a step: a forwarded frame leaves at the virtual time it arrived (its own
    // paced timestamp), not at the time of the last frame of a 256-frame burst.
    const std::size_t budget = forward ? 1 : std::max<std::size_t>(1, std::min<std::size_t>(cfg.ring_size, 256));
    while (nic->step(budget)) {
      for (auto& c : cons) while (c.poll()) {}
      bar.set_total(nic->trace_frames_total());
      bar.update(nic->counters().trace_frames);
    }
    for (auto& c : cons) while (c.poll()) {}
  } else {
    std::atomic<bool> ingest_done{false};
    std::vector<std::thread> threads;
    for (auto& c : cons)
      threads.emplace_back([&c, &ingest_done] {
        for (;;) {
          if (c.poll()) continue;
          if (ingest_done.load(std::memory_order_acquire)) {   // A2: pairs with R2 below
            while (c.poll()) {}
            return;
          }
          std::this_thread::yield();
        }
      });
    const auto real0 = std::chrono::steady_clock::now();
    const std::uint64_t virt0 = nic->next_due().value_or(0);
    const bool afap = cfg.timing.mode == sim::pacing::afap;
    while (!nic->done()) {
      if (afap) {
        nic->step(64);
      } else {
        const auto due = nic->next_due();
        if (!due) break;
        const auto target = real0 + std::chrono::nanoseconds(*due - virt0);
        const auto now = std::chrono::steady_clock::now();
        if (target - now > std::chrono::microseconds(200)) std::this_thread::sleep_until(target - std::chrono::microseconds(100));
        while (std::chrono::steady_clock::now() < target) {}
        const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - real0);
        nic->advance_to(virt0 + static_cast<std::uint64_t>(elapsed.count()));
      }
      bar.set_total(nic->trace_frames_total());
      bar.update(nic->counters().trace_frames);
    }
    ingest_done.store(true, std::memory_order_release);   // R2: pairs with A2 in the consumers
    for (auto& t : threads) t.join();
  }
  nic->return_cache();
  bar.finish(nic->counters().trace_frames);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nic->flush_tx();
  print_summary(*nic, cons, secs, max_drops);
  if (a.has("hash")) {
    fnv h;
    for (auto& c : cons) h.mix64(c.h.h);
    std::printf("frames hash %016" PRIx64 "\n", h.h);
  }
  if (a.has("trace")) {
    trace::enable(false);
    const auto ev = trace::drain();
    std::printf("trace events %zu, hash %016" PRIx64 "\n", ev.size(), trace::hash(ev));
  }
  // A record that could not be read ended the trace partway: what came before it was replayed (the
  // counters above say what), so the run failed rather than never ran (exit 1, not 2; a file that
  // fails at open is exit 2, above).
  int rc = cli::trace_end("replay", *nic, cli::exit_ok);
  if (nic->pool().out() != 0) {
    std::fprintf(stderr, "ringlab replay: %u pool frames not returned (a leak)\n", nic->pool().out());
    rc = cli::exit_failure;
  }
  return rc;
}

const cli::registration reg{{"replay", "replay a pcap through sim_nic into per-queue RX rings", run}};

}  // namespace
