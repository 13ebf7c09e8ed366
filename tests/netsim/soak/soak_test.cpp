// A fault soak grid over the bypass UDP path, in smoltcp's netsim style: for each cell (seed x drop /
// reorder / dup / corrupt rates of sim_nic's seeded rx faults) a trace of unicast datagrams is replayed
// through sim_nic into the Asio bypass socket, and the cell checks
//   - exactly the surviving datagrams arrive, payload by payload: every copy the fault injector let
//     through (the dropped ones out, the duplicates in) and no corrupted copy, except the few whose
//     flipped byte no check covers (source MAC, a destination MAC turned multicast, a UDP checksum
//     turned to zero, "no checksum");
//   - every other corrupted copy is dropped by the stack for the reason its flipped byte gives
//     (checksum, length, version, MAC, ethertype), packet by packet from the trace events;
//   - the counters add up: the NIC's fault counters against the injector's decisions, NIC ipackets
//     against the stack's rx_frames, the stack's drops by reason plus delivered against rx_frames;
//   - the frame pool balances to zero.
//   - (short grid) the cell run twice in one process delivers the same payloads in the same order
//     and drops the same counts by reason.
// What the injector decided comes from fault_line itself: the same spec and seed pushed the same
// datagrams in the same order draw the same decisions (port/fault_line.hpp: every draw is made in push
// order), so a shadow line reports each datagram's drop, duplicate and corruption (offset and mask);
// the NIC's fault counters and its fault-drop trace events are checked against it.
//
// The short grid (suite soak_short, label netsim) runs in the default suite; the full grid (suite
// soak_full) is registered only with RINGLAB_SOAK_FULL=1 (ctest -L soak, label slow) and prints a
// summary table.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "port/fault_line.hpp"
#include "trace/trace.hpp"
#include "tests/unit/bypass/test_lane.hpp"
#include "tests/unit/stack/frames.hpp"

using namespace ringlab;
using namespace ringlab::stack::testing;
using audp = asio::ip::udp;
using trace::drop_reason;

namespace {

struct cell {
  std::uint64_t seed = 1;
  std::string faults;   // a port/fault_line.hpp spec
  std::size_t datagrams = 400;
};

std::string cell_name(const cell& c);
void PrintTo(const cell& c, std::ostream* os) { *os << cell_name(c); }

std::string cell_name(const cell& c) {
  std::string s = "seed" + std::to_string(c.seed) + "_" + (c.faults.empty() ? "clean" : c.faults);
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

constexpr std::uint16_t src_port = 7000, dst_port = 9000;

// Datagram i of a cell: its payload names the seed and the index (lengths vary, 20..83 bytes).
std::string payload_of(std::uint64_t seed, std::size_t i) {
  return "soak " + std::to_string(seed) + " #" + std::to_string(i) + " " + std::string(10 + i % 64, char('a' + i % 26));
}

// What the stack does with one frame of this test after the injector flipped byte `at` with `mask`:
// none (delivered intact) or the drop reason, by the stack's check order (stack/iface/rx_pipeline.cpp,
// wire/ipv4.hpp, wire/udp.hpp). Offsets are those of an untagged Ethernet + 20-byte IPv4 + UDP frame.
drop_reason corrupted_outcome(const bytes& f, std::size_t at, std::uint8_t mask) {
  const auto flipped = [&](std::size_t i) { return std::to_integer<std::uint8_t>(f[i]) ^ (i == at ? mask : 0); };
  const auto be16 = [&](std::size_t i) { return static_cast<std::uint16_t>(flipped(i) << 8 | flipped(i + 1)); };
  constexpr std::size_t ip = wire::ethernet::header_len, l4 = ip + wire::ipv4::min_header_len;
  if (at < 6)   // destination MAC: a group address passes Ethernet (IPv4 then decides by the unicast dst)
    return (flipped(0) & 1) ? drop_reason::none : drop_reason::not_ours;
  if (at < 12) return drop_reason::none;   // source MAC: nothing checks it
  if (at < ip) {                           // ethertype
    const std::uint16_t t = be16(12);
    return t == 0x0806 ? drop_reason::unsupported : drop_reason::bad_ethertype;   // ARP: hardware type 0x4500
  }
  const std::size_t ip_bytes = f.size() - ip;
  if (at == ip) {   // version / IHL
    const std::uint8_t v = flipped(ip);
    if (v >> 4 != 4) return drop_reason::bad_ip_version;
    if ((v & 15) < 5) return drop_reason::bad_ip_header_len;
    if (std::size_t{v & 15u} * 4 > ip_bytes) return drop_reason::truncated;
    if (be16(ip + 2) < std::size_t{v & 15u} * 4) return drop_reason::bad_ip_header_len;
    return drop_reason::bad_ip_checksum;
  }
  if (at == ip + 2 || at == ip + 3) {   // total length
    const std::uint16_t len = be16(ip + 2);
    if (len < wire::ipv4::min_header_len) return drop_reason::bad_ip_header_len;
    if (len > ip_bytes) return drop_reason::bad_ip_total_len;
    return drop_reason::bad_ip_checksum;
  }
  if (at < l4) return drop_reason::bad_ip_checksum;   // any other header byte: one's complement sees it
  if (at == l4 + 4 || at == l4 + 5) {                  // UDP length
    const std::uint16_t len = be16(l4 + 4);
    return len < wire::udp::header_len || len > f.size() - l4 ? drop_reason::bad_l4_length : drop_reason::bad_l4_checksum;
  }
  if ((at == l4 + 6 || at == l4 + 7) && be16(l4 + 6) == 0) return drop_reason::none;   // zero: no checksum
  return drop_reason::bad_l4_checksum;
}

// One cell's outcome, for the checks and the summary table.
struct result {
  std::string name;
  std::uint64_t sent = 0, delivered = 0, fault_dropped = 0, corrupted = 0, reordered = 0;
  std::uint64_t dup_injected = 0;     // copies the injector added (each one reaches the stack)
  std::uint64_t duplicates = 0;       // delivered copies beyond the first of a payload (<= dup_injected)
  std::uint64_t corrupt_passed = 0;   // corrupted copies no check covers (delivered intact)
  std::map<drop_reason, std::uint64_t> stack_drops;
  std::vector<std::string> order;   // the delivered payloads, in order (for the determinism check)
};

std::vector<result>& table() {
  static std::vector<result> rows;
  return rows;
}

result run_cell(const cell& c) {
  result res;
  res.name = cell_name(c);
  std::string err;
  const auto spec = port::parse_fault_spec(c.faults, &err);
  EXPECT_TRUE(spec) << err;
  if (!spec) return res;

  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < c.datagrams; ++i) {
    frames.push_back(udp(peer_ip, me_ip, src_port, dst_port, text(payload_of(c.seed, i)), static_cast<std::uint16_t>(i)));
    ts.push_back(1'000'000 + i * 1'000);
  }
  res.sent = frames.size();

  // The injector's decisions: the same spec and seed over the same items in the same order.
  port::fault_line<std::size_t> shadow(*spec, c.seed);
  std::vector<std::uint64_t> fault_drops;   // packet ids (index + 1)
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (!shadow.push(i, ts[i])) fault_drops.push_back(i + 1);
  constexpr std::uint64_t end = std::numeric_limits<std::uint64_t>::max();
  shadow.flush(end);
  std::vector<std::string> want_delivered;
  std::vector<std::pair<std::uint64_t, drop_reason>> want_drops;   // (packet id, reason) of corrupted copies
  std::map<drop_reason, std::uint64_t> want_by_reason;
  while (auto o = shadow.pop_ready(end)) {
    const bytes& f = frames[o->item];
    const drop_reason r = o->mark.corrupt ? corrupted_outcome(f, o->mark.offset % f.size(), o->mark.mask) : drop_reason::none;
    if (r == drop_reason::none) {
      res.corrupt_passed += o->mark.corrupt;
      want_delivered.push_back(payload_of(c.seed, o->item));
    } else {
      want_drops.emplace_back(o->item + 1, r);
      ++want_by_reason[r];
    }
  }
  const port::fault_counters& injected = shadow.counters();
  res.fault_dropped = injected.dropped;
  res.dup_injected = injected.duplicated;
  res.corrupted = injected.corrupted;
  res.reordered = injected.reordered;

  const auto trace = sim::pcap_trace::from_frames(frames, ts);
  bypass::device_options d;
  d.queues = 1;
  d.trace = &trace;
  d.sim.pool = {.frames = 256, .frame_size = 2048, .headroom = 256};
  d.sim.rx_faults = *spec;
  d.sim.seed = c.seed;
  std::string why;
  auto dev = bypass::open_device(d, why);
  EXPECT_TRUE(dev) << why;
  if (!dev) return res;

  trace::drain();   // nothing left over from an earlier cell
  trace::enable(true);
  stack::interface_counters stack_ctr;
  {
    asio::io_context ctx{1};
    auto& svc = asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config lc = test_lane(bypass::drive_mode::busy_poll);
    lc.clock = dev->clock();
    lc.ingest = dev->ingest();
    EXPECT_FALSE(svc.attach(dev->queue(0), lc));
    bypass::udp::socket sock(ctx, 1024);
    sock.bind(audp::endpoint(asio::ip::make_address_v4("10.0.0.2"), dst_port));
    std::function<void()> next = [&] {
      sock.async_receive_frame([&](std::error_code ec, stack::lent_frame fr) {
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(fr.source(), (stack::endpoint{peer_ip, src_port}));
        const auto p = fr.payload();
        res.order.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
        next();
      });
    };
    next();
    svc.start();
    // Busy polling always has a handler ready: run until the replay is over and every frame the
    // NIC took in was seen by the stack (or a generous bound, for a cell that delivers too few).
    for (int i = 0; i < 2'000'000; ++i) {
      if (dev->exhausted() && svc.iface().counters().rx_frames == dev->sim_nic()->counters().total.ipackets &&
          res.order.size() >= want_delivered.size())
        break;
      ctx.run_one();
    }
    stack_ctr = svc.iface().counters();
    svc.stop();
  }
  trace::enable(false);
  const auto events = trace::drain();

  // Exactly the surviving datagrams, payload by payload (sorted: reordering moves them). Without
  // reordering the order is the injector's too.
  res.delivered = res.order.size();
  std::vector<std::string> got = res.order, want = want_delivered;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  if (spec->reorder == 0) {
    EXPECT_EQ(res.order, want_delivered);
  }
  for (std::size_t i = 1; i < got.size(); ++i) res.duplicates += got[i] == got[i - 1];

  // Drops, packet by packet: the injector's (hop fault) and the stack's (by reason) from the trace.
  std::vector<std::uint64_t> saw_fault_drops;
  std::vector<std::pair<std::uint64_t, drop_reason>> saw_drops;
  for (const auto& e : events) {
    if (e.v != trace::verdict::drop) continue;
    if (e.stage == trace::hop::fault) {
      EXPECT_EQ(e.reason, drop_reason::fault_injected);
      saw_fault_drops.push_back(e.packet_id);
    } else {
      saw_drops.emplace_back(e.packet_id, e.reason);
    }
  }
  std::sort(saw_drops.begin(), saw_drops.end());
  std::sort(want_drops.begin(), want_drops.end());
  EXPECT_EQ(saw_fault_drops, fault_drops);
  EXPECT_EQ(saw_drops, want_drops);

  // The counters add up.
  const sim::nic_counters nic = dev->sim_nic()->counters();
  const std::uint64_t through = res.sent - injected.dropped + injected.duplicated;
  if (spec->any()) {
    EXPECT_EQ(nic.rx_faults.in, res.sent);
    EXPECT_EQ(nic.rx_faults.dropped, injected.dropped);
    EXPECT_EQ(nic.rx_faults.duplicated, injected.duplicated);
    EXPECT_EQ(nic.rx_faults.corrupted, injected.corrupted);
    EXPECT_EQ(nic.rx_faults.reordered, injected.reordered);
    EXPECT_EQ(nic.rx_faults.out, through);
  } else {   // no fault line at all: sim_nic's counters stay zero
    EXPECT_EQ(nic.rx_faults.in + nic.rx_faults.out, 0u);
  }
  EXPECT_EQ(nic.total.ipackets, through);
  EXPECT_EQ(nic.total.imissed, 0u);
  EXPECT_EQ(nic.total.rx_nombuf, 0u);
  EXPECT_EQ(nic.ierrors(), 0u);
  EXPECT_EQ(stack_ctr.rx_frames, nic.total.ipackets);
  EXPECT_EQ(stack_ctr.udp_delivered, res.delivered);
  EXPECT_EQ(stack_ctr.dropped_total() + stack_ctr.udp_delivered, stack_ctr.rx_frames);
  for (std::size_t r = 0; r < static_cast<std::size_t>(drop_reason::count_); ++r) {
    const auto why_r = static_cast<drop_reason>(r);
    const auto it = want_by_reason.find(why_r);
    EXPECT_EQ(stack_ctr.dropped(why_r), it == want_by_reason.end() ? 0u : it->second) << trace::to_string(why_r);
    if (stack_ctr.dropped(why_r)) res.stack_drops[why_r] = stack_ctr.dropped(why_r);
  }
  EXPECT_EQ(res.delivered + stack_ctr.dropped_total(), through);
  // The table's identity (print_table's legend), column by column: every corrupted copy reaches the
  // stack (the injector corrupts after its drop decision), and the stack drops exactly the corrupted
  // copies whose flipped byte a check covers, nothing else.
  EXPECT_EQ(stack_ctr.dropped_total(), res.corrupted - res.corrupt_passed);
  EXPECT_EQ(res.delivered, res.sent - res.fault_dropped + res.dup_injected - (res.corrupted - res.corrupt_passed));
  EXPECT_LE(res.duplicates, res.dup_injected);

  // The pool balances.
  dev->sim_nic()->return_cache();
  EXPECT_EQ(dev->pool().out(), 0u);
  return res;
}

void print_row(const result& r) {
  std::string reasons;
  for (const auto& [why, n] : r.stack_drops) reasons += std::string(trace::to_string(why)) + "=" + std::to_string(n) + " ";
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("%-56s %8llu %9llu %8llu %6llu %8llu %8llu %6llu %6llu  %s\n", r.name.c_str(), u(r.sent), u(r.delivered),
              u(r.fault_dropped), u(r.dup_injected), u(r.corrupted), u(r.corrupt_passed), u(r.duplicates),
              u(r.reordered), reasons.empty() ? "none" : reasons.c_str());
}

// One row per cell, then the sums over the grid, then what each column counts and the identity that
// run_cell asserts for every cell (so a reader can add a row up). bench/report.py parses the rows
// (SOAK_COLS: the same columns in the same order).
void print_table(const std::vector<result>& rows) {
  if (rows.empty()) return;
  result total;
  total.name = "total (" + std::to_string(rows.size()) + " cells)";
  for (const auto& r : rows) {
    total.sent += r.sent, total.delivered += r.delivered, total.fault_dropped += r.fault_dropped;
    total.dup_injected += r.dup_injected, total.duplicates += r.duplicates, total.corrupted += r.corrupted;
    total.reordered += r.reordered, total.corrupt_passed += r.corrupt_passed;
    for (const auto& [why, n] : r.stack_drops) total.stack_drops[why] += n;
  }
  std::printf("%-56s %8s %9s %8s %6s %8s %8s %6s %6s  %s\n", "cell", "sent", "delivered", "f.drop", "f.dup", "corrupt",
              "c.intact", "dups", "reord", "stack drops by reason");
  for (const auto& r : rows) print_row(r);
  print_row(total);
  std::printf(
      "columns:\n"
      "  sent       datagrams in the trace, one frame each\n"
      "  delivered  datagrams the socket received, every copy counted\n"
      "  f.drop     frames the fault injector dropped before the NIC\n"
      "  f.dup      copies the injector added (duplicates); each reaches the stack like any frame\n"
      "  corrupt    copies the injector corrupted (one byte flipped), duplicates included; a dropped frame is never corrupted\n"
      "  c.intact   corrupted copies delivered all the same: the flipped byte is one no check covers (source MAC, ...)\n"
      "  dups       delivered copies beyond the first of a payload (<= f.dup: a duplicate, or its original, corrupted and dropped leaves one copy)\n"
      "  reord      frames the injector held back to be overtaken (moves frames, adds or removes none)\n"
      "  stack drops by reason: the corrupted copies the stack caught, corrupt - c.intact in all\n"
      "identity, asserted for every cell: delivered = sent - f.drop + f.dup - (corrupt - c.intact)\n");
}

class soak : public ::testing::TestWithParam<cell> {
 public:
  static void TearDownTestSuite() {
    print_table(table());
    table().clear();
  }
};
class soak_short : public soak {};
class soak_full : public soak {};

void check_cell(const cell& c) {
  result r = run_cell(c);
  // Deterministic: the same cell run again gives the same deliveries in the same order, and drops.
  if (!::testing::Test::HasFailure() && c.datagrams <= 400) {
    const result again = run_cell(c);
    EXPECT_EQ(again.order, r.order);
    EXPECT_EQ(again.stack_drops, r.stack_drops);
  }
  r.order.clear();
  table().push_back(std::move(r));
}

TEST_P(soak_short, exactly_the_surviving_datagrams_arrive_and_the_counts_add_up) { check_cell(GetParam()); }
TEST_P(soak_full, exactly_the_surviving_datagrams_arrive_and_the_counts_add_up) { check_cell(GetParam()); }

std::vector<cell> short_grid() {
  std::vector<cell> g;
  for (std::uint64_t seed : {1, 2, 3})
    for (const char* f : {"", "drop=0.05", "reorder=0.1:8", "dup=0.05", "corrupt=0.05",
                          "drop=0.02,reorder=0.05:8,dup=0.02,corrupt=0.05"})
      g.push_back({seed, f, 400});
  return g;
}

// seeds 1..16 x drop {0, 0.01, 0.1, 0.3} x reorder {0, 0.05:8, 0.3:16} x dup {0, 0.01, 0.1, 0.3} x corrupt
// {0, 0.01, 0.1, 0.3}: 3072 cells of 5000 datagrams. Registered only when asked for (ctest -L soak).
std::vector<cell> full_grid() {
  std::vector<cell> g;
  if (!std::getenv("RINGLAB_SOAK_FULL")) return g;
  for (std::uint64_t seed = 1; seed <= 16; ++seed)
    for (const char* drop : {"", "drop=0.01,", "drop=0.1,", "drop=0.3,"})
      for (const char* reorder : {"", "reorder=0.05:8,", "reorder=0.3:16,"})
        for (const char* dup : {"", "dup=0.01,", "dup=0.1,", "dup=0.3,"})
          for (const char* corrupt : {"", "corrupt=0.01,", "corrupt=0.1,", "corrupt=0.3,"}) {
            std::string f = std::string(drop) + reorder + dup + corrupt;
            if (!f.empty()) f.pop_back();
            g.push_back({seed, f, 5000});
          }
  return g;
}

std::string param_name(const ::testing::TestParamInfo<cell>& i) { return cell_name(i.param); }

INSTANTIATE_TEST_SUITE_P(grid, soak_short, ::testing::ValuesIn(short_grid()), param_name);
INSTANTIATE_TEST_SUITE_P(grid, soak_full, ::testing::ValuesIn(full_grid()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(soak_full);

}  // namespace
