#include "tests/fuzz/sim_nic/fuzz_pcap_entry.hpp"

#include <cstdlib>
#include <span>

#include "sim_nic/sim_nic.hpp"

int ringlab_fuzz_sim_nic_pcap(const std::uint8_t* data, std::size_t size) {
  using namespace ringlab;
  auto t = sim::pcap_trace::from_memory(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  if (!t) {
    if (t.error.empty()) std::abort();   // an error must say what went wrong
    return 0;
  }
  sim::sim_nic_config c;
  c.queues = 2;
  c.ring_size = 16;
  c.pool.frames = 24;
  c.mtu = 1500;
  c.rx_faults.dup = 0.1;
  c.rx_faults.reorder = 0.1;
  c.rx_faults.corrupt = 0.1;
  c.timing.loops = 2;
  sim::sim_nic nic(c);
  nic.load(*t);
  std::uint64_t seen = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    const std::size_t moved = nic.step(8);
    for (std::uint16_t q = 0; q < 2; ++q) {
      port::frame_ref f[8];
      std::size_t n;
      while ((n = nic.queue(q).rx_burst(f)) > 0) {
        for (std::size_t i = 0; i < n; ++i) {
          if (f[i].bytes.size() > nic.pool().room()) std::abort();
          seen += f[i].bytes.size() ? std::to_integer<unsigned>(f[i].bytes[0]) : 0;
        }
        nic.queue(q).rx_release({f, n});
      }
    }
    if (!moved) break;
  }
  nic.return_cache();
  if (nic.pool().out() != 0 || !nic.done()) std::abort();
  for (const auto& d : nic.drop_log()) (void)d.to_string();
  return static_cast<int>(seen & 0);
}
