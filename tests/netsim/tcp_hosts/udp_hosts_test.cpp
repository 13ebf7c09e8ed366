// The two-host fixture proven with UDP before TCP runs on it: host A sends numbered datagrams to
// host B over sim_nic's wire, clean and faulty (loss, duplication, reordering, corruption; seeds
// listed), and every datagram B's socket hands out is exactly the one A sent under that number. The
// wire's, NICs' and stacks' counters agree frame for frame; both pools come back to zero; each host's
// capture holds what that host sent and received (tshark reads it and agrees on the checksums); the
// same seed writes the same capture bytes twice, another seed other bytes.
#include <gtest/gtest.h>

#include <ostream>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "port/fault_line.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netsim/tcp_hosts/byte_stream.hpp"
#include "tests/netsim/tcp_hosts/capture.hpp"
#include "tests/netsim/tcp_hosts/two_hosts.hpp"
#include "tests/support/preconditions.hpp"
#include "tests/support/ringlab_cli.hpp"

namespace ringlab::netsim {
namespace {

using stack::time_ns;
using trace::drop_reason;

constexpr std::uint16_t a_port = 5000, b_port = 6000;

// Datagram i: 8 bytes of its number, then stream bytes at i's offset; 24..1472 bytes long.
std::size_t datagram_size(std::uint32_t i) { return 24 + (i * 7919u) % 1449u; }
std::vector<std::byte> datagram(std::uint32_t i) {
  std::vector<std::byte> d(datagram_size(i));
  const std::uint64_t n = i;
  std::memcpy(d.data(), &n, 8);
  byte_stream(77).fill(std::uint64_t{i} << 11, std::span(d).subspan(8));
  return d;
}

struct udp_run {
  std::vector<std::uint32_t> order;   // numbers as B's socket handed them out
  std::size_t wrong_bytes = 0;        // datagrams whose bytes are not what A sent under that number
  std::uint64_t send_retries = 0;     // send_to said no_buffer_space (ARP still pending): tried again later
  stack::interface_counters a, b;
  sim::nic_counters nic_a, nic_b;
  port::fault_counters ab, ba;
  two_hosts::run_stats st;
  std::uint32_t out_a = ~0u, out_b = ~0u;
  std::string pcap_a, pcap_b;         // the capture files' bytes
};

udp_run send_datagrams(std::uint32_t count, const port::fault_spec& faults, std::uint64_t seed, const std::string& tag) {
  udp_run r;
  two_hosts_config cfg;
  cfg.a_to_b.faults = faults;
  cfg.a_to_b.seed = seed;
  cfg.b_to_a.seed = seed + 1;
  cfg.pcap_a = test::temp_path("udp-hosts", tag + "-a.pcap");
  cfg.pcap_b = test::temp_path("udp-hosts", tag + "-b.pcap");
  {
    two_hosts h(cfg);
    stack::udp_socket tx(h.a()), rx(h.b(), 4096);
    EXPECT_FALSE(tx.bind({two_hosts::a_ip, a_port}));
    EXPECT_FALSE(rx.bind({two_hosts::b_ip, b_port}));
    std::uint32_t next = 0;
    std::vector<std::byte> buf(2048);
    auto app = [&](time_ns now) -> time_ns {
      for (std::error_code ec;;) {
        const auto got = rx.try_receive_from(buf, ec);
        if (ec) break;
        std::uint64_t n = 0;
        std::memcpy(&n, buf.data(), 8);
        r.order.push_back(static_cast<std::uint32_t>(n));
        const auto want = n < count ? datagram(static_cast<std::uint32_t>(n)) : std::vector<std::byte>{};
        if (got.bytes != want.size() || got.source != stack::endpoint{two_hosts::a_ip, a_port} ||
            std::memcmp(buf.data(), want.data(), want.size()) != 0)
          ++r.wrong_bytes;
      }
      if (next == count) return stack::never;
      // While the first datagram waits on ARP, the next ones would overflow the (kernel-like, bounded,
      // lossy) unresolved queue: wait for the reply as an application pacing on its socket would.
      if (h.a().arp_pending() > 0) return now + 20'000;
      // One datagram every 20 us (a 1500-byte frame takes 12 us at 1 Gb/s): paced, as an application
      // with a timer would send, so the wire's queue stays short.
      const auto d = datagram(next);
      if (const auto ec = tx.send_to(d, {two_hosts::b_ip, b_port}, now)) {
        EXPECT_EQ(ec, std::errc::no_buffer_space) << ec.message();
        ++r.send_retries;
        return now + 1 * stack::ms;
      }
      ++next;
      return now + 20'000;
    };
    r.st = h.run(app, {});
    r.a = h.a().counters();
    r.b = h.b().counters();
    EXPECT_EQ(next, count);
    tx.close();
    rx.close();
    h.flush_captures();
    r.nic_a = h.nic_a().counters();
    r.nic_b = h.nic_b().counters();
    r.ab = h.link().counters_a_to_b();
    r.ba = h.link().counters_b_to_a();
    r.out_a = h.frames_out_a();
    r.out_b = h.frames_out_b();
  }
  r.pcap_a = file_bytes(cfg.pcap_a);
  r.pcap_b = file_bytes(cfg.pcap_b);
  std::filesystem::remove(cfg.pcap_a);
  std::filesystem::remove(cfg.pcap_b);
  return r;
}

port::fault_spec spec(const char* text) {
  std::string err;
  const auto s = port::parse_fault_spec(text, &err);
  EXPECT_TRUE(s) << err;
  return s.value_or(port::fault_spec{});
}

// Frames in a capture image, through sim_nic's reader.
std::vector<std::vector<std::byte>> frames_of(const std::string& image) {
  auto t = sim::pcap_trace::from_memory(std::as_bytes(std::span(image)), "capture");
  EXPECT_TRUE(t) << t.error;
  std::vector<std::vector<std::byte>> out;
  if (t)
    for (const auto& rec : t->records()) out.emplace_back(t->bytes(rec).begin(), t->bytes(rec).end());
  return out;
}

TEST(udp_two_hosts, clean_wire_every_datagram_arrives_in_order_with_its_bytes) {
  constexpr std::uint32_t n = 2000;
  const udp_run r = send_datagrams(n, {}, 1, "clean");
  EXPECT_EQ(r.st.ended, run_end::idle) << to_string(r.st.ended);
  ASSERT_EQ(r.order.size(), n);
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(r.order[i], i);
  EXPECT_EQ(r.wrong_bytes, 0u);
  EXPECT_EQ(r.send_retries, 0u);
  EXPECT_EQ(r.a.dropped_total(), 0u);
  EXPECT_EQ(r.a.udp_sent, n);
  EXPECT_EQ(r.b.udp_delivered, n);
  EXPECT_EQ(r.b.dropped_total(), 0u);
  // A sent the datagrams and one ARP request; B one ARP reply. Nothing lost anywhere.
  EXPECT_EQ(r.a.arp_requests_sent, 1u);
  EXPECT_EQ(r.b.arp_requests_answered, 1u);
  EXPECT_EQ(r.nic_a.wire_tx, n + 1);
  EXPECT_EQ(r.nic_b.wire_rx, n + 1);
  EXPECT_EQ(r.nic_b.wire_tx, 1u);
  EXPECT_EQ(r.b.rx_frames, n + 1);
  EXPECT_EQ(r.nic_b.total.imissed + r.nic_b.total.rx_nombuf, 0u);
  EXPECT_EQ(r.ab.in, r.ab.out);
  EXPECT_EQ(r.out_a, 0u);
  EXPECT_EQ(r.out_b, 0u);
  // Each capture holds its host's both directions; B's holds datagram 0's frame byte for byte as A's does.
  const auto ca = frames_of(r.pcap_a), cb = frames_of(r.pcap_b);
  EXPECT_EQ(ca.size(), n + 2);
  EXPECT_EQ(cb.size(), n + 2);
  const auto d0 = datagram(0);
  std::size_t found = 0;
  for (std::size_t i = 0; i < cb.size(); ++i)
    if (cb[i].size() == 42 + d0.size() && std::equal(d0.begin(), d0.end(), cb[i].begin() + 42)) {
      ++found;
      EXPECT_EQ(cb[i], ca[i]) << "frame " << i;   // ARP request, reply, then datagram 0: same place in both
    }
  EXPECT_EQ(found, 1u);
}

struct fault_case {
  const char* name;
  const char* faults;
  std::uint64_t seed;
};
// gtest prints a parameter into the ctest name: the cell's name, not its bytes (which hold addresses).
inline void PrintTo(const fault_case& c, std::ostream* os) { *os << c.name; }

class udp_two_hosts_faulty : public ::testing::TestWithParam<fault_case> {};

TEST_P(udp_two_hosts_faulty, what_arrives_is_exact_and_every_frame_is_accounted_for) {
  const fault_case& c = GetParam();
  constexpr std::uint32_t n = 3000;
  const port::fault_spec f = spec(c.faults);
  const udp_run r = send_datagrams(n, f, c.seed, c.name);
  EXPECT_EQ(r.st.ended, run_end::idle) << to_string(r.st.ended);
  EXPECT_EQ(r.wrong_bytes, 0u);
  EXPECT_EQ(r.a.udp_sent, n);
  EXPECT_EQ(r.a.dropped(drop_reason::arp_unresolved), 0u);
  // The wire: what went in, less what it lost, plus its duplicates, reached B's NIC, B's rings and B's stack.
  EXPECT_EQ(r.ab.in, r.nic_a.wire_tx);
  EXPECT_EQ(r.nic_b.wire_rx, r.ab.in - r.ab.dropped + r.ab.duplicated);
  EXPECT_EQ(r.nic_b.total.imissed + r.nic_b.total.rx_nombuf, 0u);
  EXPECT_EQ(r.b.rx_frames, r.nic_b.wire_rx);
  // Every frame B's stack read was delivered, answered (ARP) or dropped with a reason.
  EXPECT_EQ(r.b.udp_delivered + r.b.arp_requests_answered + r.b.arp_replies_received + r.b.dropped_total(),
            r.b.rx_frames);
  EXPECT_EQ(r.order.size(), r.b.udp_delivered);
  std::map<std::uint32_t, int> copies;
  std::size_t late = 0;
  std::uint32_t highest = 0;
  for (std::uint32_t x : r.order) {
    ++copies[x];
    if (x < highest) ++late;
    highest = std::max(highest, x);
  }
  std::size_t twice = 0;
  for (const auto& [x, k] : copies) twice += k > 1;
  // Dropped datagrams are missing (frames lost include ARP: at most that many datagrams fewer).
  EXPECT_LE(copies.size(), n);
  EXPECT_GE(copies.size() + r.ab.dropped + r.ab.corrupted, n);
  if (f.drop > 0) {
    EXPECT_LT(copies.size(), n);
  }
  if (f.dup > 0) {
    EXPECT_GT(twice, 0u);
  }
  if (f.reorder > 0) {
    EXPECT_GT(late, 0u);
  }
  // Corrupted frames: each caught by a checksum (or landing where nothing reads it: a source MAC).
  const std::uint64_t caught = r.b.dropped(drop_reason::bad_l4_checksum) + r.b.dropped(drop_reason::bad_ip_checksum);
  if (f.corrupt > 0) {
    EXPECT_GT(caught, 0u);
    EXPECT_LE(r.b.dropped_total(), r.ab.corrupted);
  } else {
    EXPECT_EQ(r.b.dropped_total(), 0u);
  }
  EXPECT_EQ(r.out_a, 0u);
  EXPECT_EQ(r.out_b, 0u);
  RecordProperty("delivered", std::to_string(r.order.size()));
  RecordProperty("wire_dropped", std::to_string(r.ab.dropped));
  RecordProperty("checksum_drops", std::to_string(caught));
}

INSTANTIATE_TEST_SUITE_P(grid, udp_two_hosts_faulty,
                         ::testing::Values(fault_case{"loss5", "drop=0.05", 11}, fault_case{"dup3", "dup=0.03", 12},
                                           fault_case{"reorder10", "reorder=0.1:8", 13},
                                           fault_case{"corrupt3", "corrupt=0.03", 14},
                                           fault_case{"mixed", "drop=0.03,dup=0.02,reorder=0.05:4,corrupt=0.02,jitter=30us", 15}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(udp_two_hosts, same_seed_same_capture_bytes_another_seed_other_bytes) {
  const char* faults = "drop=0.03,dup=0.02,reorder=0.05:4,corrupt=0.02,jitter=30us";
  const udp_run x = send_datagrams(1000, spec(faults), 21, "det-x"), y = send_datagrams(1000, spec(faults), 21, "det-y"),
                z = send_datagrams(1000, spec(faults), 22, "det-z");
  ASSERT_GT(x.pcap_a.size(), 1000u * 42);
  EXPECT_EQ(digest(x.pcap_a), digest(y.pcap_a));
  EXPECT_EQ(digest(x.pcap_b), digest(y.pcap_b));
  EXPECT_TRUE(x.pcap_b == y.pcap_b);
  EXPECT_EQ(x.order, y.order);
  EXPECT_EQ(x.st.rounds, y.st.rounds);
  // Another seed: other losses, copies and delays at B.
  EXPECT_NE(digest(x.pcap_b), digest(z.pcap_b));
  EXPECT_NE(x.order, z.order);
}

TEST(udp_two_hosts, tshark_reads_the_captures_and_finds_every_checksum_good_on_a_clean_wire) {
  RINGLAB_REQUIRE(test::program_missing("tshark", "tshark"));
  constexpr std::uint32_t n = 300;
  const udp_run r = send_datagrams(n, {}, 3, "tshark");
  const std::string path = test::temp_path("udp-hosts", "tshark-b.pcap");
  {
    std::ofstream f(path, std::ios::binary);
    f << r.pcap_b;
  }
  // -d: tshark reads port 6000 as X11 and calls our numbered payloads malformed X11; they are data.
  auto [rc, out] = run_command("tshark -r '" + path + "' -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
                               " -d udp.port==6000,data"
                               " -T fields -E separator=/t -e frame.number -e ip.checksum.status -e udp.checksum.status"
                               " -e udp.length -e arp.opcode -e _ws.expert.message 2>/dev/null");
  std::filesystem::remove(path);
  ASSERT_EQ(rc, 0);
  const auto rows = tshark_rows(out, 6);
  ASSERT_EQ(rows.size(), n + 2);
  std::size_t udp = 0, arp = 0;
  for (const auto& c : rows) {
    if (!c[4].empty()) {
      ++arp;
      continue;
    }
    ++udp;
    EXPECT_EQ(c[1], "1") << c[0];
    EXPECT_EQ(c[2], "1") << c[0];
    EXPECT_EQ(c[5], "") << c[0];
    const std::uint32_t i = static_cast<std::uint32_t>(udp - 1);
    EXPECT_EQ(c[3], std::to_string(8 + datagram_size(i))) << c[0];
  }
  EXPECT_EQ(udp, n);
  EXPECT_EQ(arp, 2u);
}

}  // namespace
}  // namespace ringlab::netsim
