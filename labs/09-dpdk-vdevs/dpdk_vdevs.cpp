// Lab 09: two DPDK virtual devices under the lab's port seam (backends/dpdk/dpdk_port.hpp).
//   dpdk_vdevs TRACE.pcap OUT_DIR
// 1. net_pcap: a real PMD reading TRACE.pcap through rte_eth_rx_burst; every frame is compared with the
//    file as libpcap reads it, then sent back out (testpmd's io forwarding) into OUT_DIR/net_pcap-tx.pcap,
//    which is compared with the input in turn.
// 2. net_ring: two ethdevs back to back over two rte_rings (rte_eth_from_rings); frames go one way, then
//    the ring is filled with nobody reading to show its capacity and the PMD's answer when it is full.
// Everything printed is a count or a verdict: the same on every run (the suite checks it line for line).
#include <pcap/pcap.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backends/dpdk/dpdk_port.hpp"

namespace dp = ringlab::backends::dpdk;
using ringlab::port::frame_ref;

namespace {

std::vector<std::string> read_pcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(path + ": " + err);
  std::vector<std::string> frames;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) frames.emplace_back(reinterpret_cast<const char*>(d), h->caplen);
  pcap_close(p);
  return frames;
}

std::string bytes_of(const frame_ref& f) { return {reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size()}; }

// Polls rx_burst until `want` frames came or nothing came for `idle_ms`; calls on(frames) per burst and
// releases them after.
template <class On>
std::size_t receive(dp::port& p, std::size_t want, int idle_ms, On&& on) {
  std::array<frame_ref, 32> buf;
  std::size_t got = 0;
  auto last = std::chrono::steady_clock::now();
  while (got < want && std::chrono::steady_clock::now() - last < std::chrono::milliseconds(idle_ms)) {
    const std::size_t n = p.rx_burst(buf);
    if (n == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    on(std::span<frame_ref>(buf.data(), n));
    p.rx_release(std::span(buf).first(n));
    got += n;
    last = std::chrono::steady_clock::now();
  }
  return got;
}

// Sends frames [first, first + count) of `frames`; returns how many the port took.
std::size_t send(dp::port& p, const std::vector<std::string>& frames, std::size_t first, std::size_t count) {
  std::size_t done = 0;
  while (done < count) {
    auto b = p.tx_reserve(count - done);
    if (b.size() == 0) break;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::string& f = frames[first + done + i];
      std::memcpy(b[i].bytes.data(), f.data(), f.size());
      b[i].bytes = b[i].bytes.first(f.size());
    }
    done += b.size();
    b.commit(b.size());
  }
  return done;
}

void print_stats(const char* who, const dp::port& p) {
  dp::eth_stats s;
  if (p.stats(s)) return;
  std::printf("  %s rte_eth_stats: ipackets %lu opackets %lu ibytes %lu obytes %lu imissed %lu rx_nombuf %lu\n", who,
              (unsigned long)s.ipackets, (unsigned long)s.opackets, (unsigned long)s.ibytes, (unsigned long)s.obytes,
              (unsigned long)s.imissed, (unsigned long)s.rx_nombuf);
}

int fail(const std::string& why) {
  std::fprintf(stderr, "dpdk_vdevs: %s\n", why.c_str());
  return 1;
}

}  // namespace

int run(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: dpdk_vdevs TRACE.pcap OUT_DIR\n");
    return 2;
  }
  const std::string trace = argv[1], tx_pcap = std::string(argv[2]) + "/net_pcap-tx.pcap";
  const auto frames = read_pcap(trace);
  std::size_t bytes = 0;
  for (const auto& f : frames) bytes += f.size();
  std::printf("%s: %zu frames, %zu bytes (libpcap)\n", trace.c_str(), frames.size(), bytes);

  std::printf("\n== net_pcap: --vdev net_pcap0,rx_pcap=TRACE,tx_pcap=OUT (EAL: --no-huge -m 256 --no-pci)\n");
  {
    auto r = dp::port::open({.device = "net_pcap0,rx_pcap=" + trace + ",tx_pcap=" + tx_pcap});
    if (!r) return fail(r.error().reason);
    auto& p = **r;
    std::printf("  port %s, mtu %u\n", p.caps().name.c_str(), p.caps().mtu);
    std::size_t i = 0, same = 0, forwarded = 0;
    std::vector<std::string> burst;
    const std::size_t got = receive(p, frames.size() + 1, 500, [&](std::span<frame_ref> fs) {
      burst.clear();
      for (const auto& f : fs) {
        burst.push_back(bytes_of(f));
        if (i < frames.size() && burst.back() == frames[i]) ++same;
        ++i;
      }
      forwarded += send(p, burst, 0, burst.size());   // io forwarding: out of the same port
    });
    std::printf("  rx_burst: %zu frames (the PMD stops at the end of the file), %zu identical to the file's, in order\n",
                got, same);
    std::printf("  tx_burst: %zu frames forwarded; port counters rx %lu tx %lu tx_ring_full %lu tx_no_mbuf %lu\n",
                forwarded, (unsigned long)p.port_counters().rx_packets, (unsigned long)p.port_counters().tx_packets,
                (unsigned long)p.port_counters().tx_ring_full, (unsigned long)p.port_counters().tx_no_mbuf);
    print_stats("net_pcap0", p);
    std::printf("  frame pool: %u frames out after release (the PMD's mbufs were copied into frames and freed)\n",
                p.pool().out());
  }   // the port closes: net_pcap flushes and closes tx_pcap
  {
    const auto out = read_pcap(tx_pcap);
    std::size_t same = 0;
    for (std::size_t i = 0; i < out.size() && i < frames.size(); ++i) same += out[i] == frames[i];
    std::printf("  OUT holds %zu frames, %zu identical to the input, in order\n", out.size(), same);
  }

  std::printf("\n== net_ring: two ethdevs over two rte_rings of 1024 (rte_eth_from_rings), a -> b and b -> a\n");
  auto pair = dp::make_ring_pair("lab09a", "lab09b");
  if (!pair) return fail(pair.error().reason);
  auto& a = *pair->a;
  auto& b = *pair->b;
  std::printf("  ports %s and %s\n", a.caps().name.c_str(), b.caps().name.c_str());
  {
    const std::size_t n = 1000, sent = send(a, frames, 0, n);
    std::size_t same = 0, k = 0;
    const std::size_t got = receive(b, n, 500, [&](std::span<frame_ref> fs) {
      for (const auto& f : fs) same += bytes_of(f) == frames[k++];
    });
    std::printf("  a sent %zu of the trace's frames; b received %zu, %zu identical, in order\n", sent, got, same);
  }
  {
    const std::size_t n = 2000;
    send(a, frames, 1000, n);   // nobody reads b meanwhile
    std::printf("  a sent %zu more with b not reading: the PMD took %lu, refused %lu (tx_ring_full: the ring was full)\n",
                n, (unsigned long)(a.port_counters().tx_packets - 1000), (unsigned long)a.port_counters().tx_ring_full);
    std::size_t same = 0, k = 1000;
    const std::size_t got = receive(b, n, 500, [&](std::span<frame_ref> fs) {
      for (const auto& f : fs) same += bytes_of(f) == frames[k++];
    });
    std::printf("  b then received %zu, %zu identical, in order: an rte_ring of count 1024 holds 1023\n", got, same);
  }
  print_stats("net_ring_lab09a", a);
  print_stats("net_ring_lab09b", b);
  std::printf("  frame pools: a %u out, b %u out\n", a.pool().out(), b.pool().out());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {   // a pcap that cannot be read
    std::fprintf(stderr, "dpdk_vdevs: %s\n", e.what());
    return 2;
  }
}
