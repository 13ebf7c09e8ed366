// Instructions per packet on the whole bypass receive path, for callgrind (run it with callgrind_rx.sh):
//   sim_nic ingest (the frame copied into the pool; with `offload` its checksums checked: what a real
//   NIC does by DMA and in hardware, for free, and sim_nic does on this CPU) -> queue port rx_burst
//   -> stack::interface (eth/ipv4/udp) -> stack udp_socket queue -> bypass::udp::socket (op performed,
//   handler posted) -> io_context runs the handler -> re-arm
// callgrind_rx.sh splits the count: the NIC's share is sim_nic::step's inclusive count, the host's the
// rest. The feed (64-byte UDP payloads to one multicast group) is generated and loaded into sim_nic
// before anything is measured (bench/bypass_udp/sim_feed.hpp, shared with the benchmark); its
// renumbering of the looped trace (fresh sequence numbers) runs with callgrind's collection toggled
// off: it is the feed's work, not the receive path's. The service runs in busy_poll drive on a
// one-thread io_context (ASIO_CONCURRENCY_HINT_UNSAFE), as the benchmark and `ringlab mcast-recv
// --backend sim` do: this loop calls io_context::run_one(). Instrumentation starts in the handler of
// packet `warmup` and stops in the handler of packet `warmup + measured`: exactly `measured` handler
// runs.
// With `batch` the handler re-arms async_receive_batch with 32 slots instead of one async_receive_from
// (each batch is cut short at packet `warmup` and `warmup + measured`, so exactly `measured` packets
// are counted; a handler run then covers up to 32 packets).
//   usage: callgrind_rx [warmup=20000] [measured=10000] [sw|offload] [single|batch]
//          (RX checksums: software or NIC; receive: one datagram per operation, or up to 32)
#include <valgrind/callgrind.h>

#include <algorithm>
#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "asio_bypass/udp_socket.hpp"
#include "bench/bypass_udp/sim_feed.hpp"

namespace {

using namespace ringlab;

struct receiver {
  bypass::udp::socket& socket;
  std::uint64_t warmup = 0;
  std::uint64_t stop_at = 0;
  std::uint64_t got = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  asio::ip::udp::endpoint from;
  std::array<std::byte, 2048> buf{};

  // Counts k more datagrams; instrumentation goes on at `warmup` and off at `stop_at` (both modes land
  // exactly on the edges). false: stop_at reached, do not re-arm (the loop below ends).
  [[gnu::always_inline]] bool counted(std::uint64_t k) {
    got += k;
    if (got == warmup) {
      CALLGRIND_START_INSTRUMENTATION;
    } else if (got == stop_at) {
      CALLGRIND_STOP_INSTRUMENTATION;
      return false;
    }
    return true;
  }

  void arm() {
    socket.async_receive_from(asio::buffer(buf), from, [this](const std::error_code& ec, std::size_t n) {
      if (ec) return void(++errors);
      bytes += n;
      if (counted(1)) arm();
    });
  }

  // batch mode: up to 32 datagrams per operation, copied into the slots' buffers.
  static constexpr std::size_t batch = 32;
  std::array<bypass::udp::receive_slot, batch> slots{};
  std::array<std::array<std::byte, 2048>, batch> bufs{};

  void arm_batch() {
    const std::uint64_t edge = got < warmup ? warmup : stop_at;   // batches end exactly at the edges
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(batch, edge - got));
    socket.async_receive_batch(std::span(slots.data(), k), [this](const std::error_code& ec, std::size_t n) {
      if (ec || n == 0) return void(++errors);
      for (std::size_t i = 0; i < n; ++i) bytes += slots[i].bytes;
      if (counted(n)) arm_batch();
    });
  }
};

std::uint64_t arg(int argc, char** argv, int i, std::uint64_t def) {
  if (argc <= i) return def;
  char* end = nullptr;
  const auto v = std::strtoull(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0' || v == 0) {
    std::fprintf(stderr, "callgrind_rx: argument %d '%s' is not a positive packet count\n", i, argv[i]);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t warmup = arg(argc, argv, 1, 20000);
  const std::uint64_t measured = arg(argc, argv, 2, 10000);
  const std::string csum = argc > 3 ? argv[3] : "sw";
  if (csum != "sw" && csum != "offload") {
    std::fprintf(stderr, "callgrind_rx: argument 3 '%s' is not a checksum mode (sw or offload)\n", csum.c_str());
    return 2;
  }
  const std::string mode = argc > 4 ? argv[4] : "single";
  if (mode != "single" && mode != "batch") {
    std::fprintf(stderr, "callgrind_rx: argument 4 '%s' is not a receive mode (single or batch)\n", mode.c_str());
    return 2;
  }

  bench::sim_feed_options o;
  o.rx_csum_offload = csum == "offload";
  o.outside_receive_path = [] { CALLGRIND_TOGGLE_COLLECT; };   // called in pairs: collection comes back on
  std::optional<bench::sim_feed> feed;
  try {
    feed.emplace(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callgrind_rx: %s\n", e.what());
    return 1;
  }

  // On the heap: 32 slots of 2 KiB buffers.
  std::unique_ptr<receiver> rh(new receiver{.socket = *feed->sock, .warmup = warmup, .stop_at = warmup + measured});
  receiver& r = *rh;
  for (std::size_t i = 0; i < receiver::batch; ++i) r.slots[i].buffer = asio::buffer(r.bufs[i]);
  if (mode == "batch") r.arm_batch();
  else r.arm();
  feed->svc.start();   // busy_poll: the poll handler re-posts itself; completions run from it
  std::uint64_t idle = 0;
  while (r.got < r.stop_at && r.errors == 0 && idle < 100000) {
    const auto before = r.got;
    feed->ctx.run_one();
    idle = r.got == before ? idle + 1 : 0;
  }
  feed->svc.stop();
  if (r.got != r.stop_at || r.errors) {
    std::fprintf(stderr, "callgrind_rx: got %llu of %llu packets, %llu errors\n",
                 static_cast<unsigned long long>(r.got), static_cast<unsigned long long>(r.stop_at),
                 static_cast<unsigned long long>(r.errors));
    return 1;
  }
  std::printf("warmup packets: %llu\nmeasured packets: %llu\npayload bytes/packet: %llu\nchecksums: %s\nreceive: %s\n",
              static_cast<unsigned long long>(warmup), static_cast<unsigned long long>(measured),
              static_cast<unsigned long long>(r.bytes / r.got), csum.c_str(), mode.c_str());
  return 0;
}
