// The named field offsets (namespace field in each header) read the same values as the views, on the
// bundled traces (real frames made by `ringlab gen-trace`), and those values are what libpcap's own
// filter language finds at its named fields ("ether src", "ip proto", "udp dst port",
// "icmp[icmptype]", "arp src host"): a second reader of the same bytes that owes nothing to stack/wire.
#include <gtest/gtest.h>

#include <pcap/pcap.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "stack/wire/wire.hpp"
#include "stack/wire/ipv4_flow.hpp"

namespace ringlab::wire {
namespace {

namespace fs = std::filesystem;

fs::path traces() {
  const char* s = std::getenv("RINGLAB_SOURCE_DIR");
  return (s ? fs::path(s) : fs::path(RINGLAB_TEST_SOURCE_DIR)) / "traces";
}

std::vector<std::vector<std::byte>> read_pcap(const fs::path& file, std::size_t max = 0) {
  char err[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, decltype(&pcap_close)> pc(pcap_open_offline(file.c_str(), err), &pcap_close);
  if (!pc) ADD_FAILURE() << file << ": " << err;
  std::vector<std::vector<std::byte>> out;
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  while (pc && (!max || out.size() < max) && pcap_next_ex(pc.get(), &h, &d) == 1) {
    const auto* b = reinterpret_cast<const std::byte*>(d);
    out.emplace_back(b, b + h->caplen);
  }
  return out;
}

// True if the pcap filter expression matches the frame (libpcap compiles it for Ethernet).
bool bpf_matches(const std::string& expr, std::span<const std::byte> f) {
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, 65535), &pcap_close);
  bpf_program prog{};
  if (pcap_compile(dead.get(), &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    ADD_FAILURE() << "filter '" << expr << "': " << pcap_geterr(dead.get());
    return false;
  }
  pcap_pkthdr h{};
  h.caplen = h.len = static_cast<std::uint32_t>(f.size());
  const bool m = pcap_offline_filter(&prog, &h, reinterpret_cast<const u_char*>(f.data())) != 0;
  pcap_freecode(&prog);
  return m;
}

// expr(value) matches the frame, and expr(another value) does not: the filter is not vacuous.
template <class Expr, class T>
void expect_bpf(std::span<const std::byte> f, Expr expr, T value, T other) {
  EXPECT_TRUE(bpf_matches(expr(value), f)) << expr(value);
  EXPECT_FALSE(bpf_matches(expr(other), f)) << expr(other);
}

std::string num(unsigned v) { return std::to_string(v); }

struct seen {
  int arp = 0, icmp = 0, igmp = 0, udp = 0;
};

// Checks every named field of one frame; returns which protocols it held.
void check_frame(std::span<const std::byte> f, seen& s) {
  const std::byte* p = f.data();
  auto e = ethernet::view::check(f);
  ASSERT_TRUE(e);
  namespace ef = ethernet::field;
  ASSERT_EQ(load_be16(p + ef::type), static_cast<std::uint16_t>(e->type()));   // the traces are untagged
  EXPECT_EQ(mac_addr::load(p + ef::dst), e->dst());
  EXPECT_EQ(mac_addr::load(p + ef::src), e->src());
  EXPECT_EQ(e->payload().data(), p + ef::payload);
  expect_bpf(f, [](mac_addr m) { return "ether src " + m.to_string(); }, e->src(), e->dst());
  expect_bpf(f, [](mac_addr m) { return "ether dst " + m.to_string(); }, e->dst(), mac_addr{2, 9, 9, 9, 9, 9});
  expect_bpf(f, [](unsigned t) { return "ether proto " + num(t); }, unsigned{load_be16(p + ef::type)}, 0x86ddu);

  if (e->type() == ethernet::ethertype::arp) {
    ++s.arp;
    const std::byte* a = p + ef::payload;
    namespace af = arp::field;
    auto v = arp::view::check(e->payload());
    ASSERT_TRUE(v);
    EXPECT_EQ(load_be16(a + af::htype), 1);
    EXPECT_EQ(load_be16(a + af::ptype), 0x0800);
    EXPECT_EQ(load_u8(a + af::hlen), 6);
    EXPECT_EQ(load_u8(a + af::plen), 4);
    EXPECT_EQ(load_be16(a + af::oper), v->oper());
    EXPECT_EQ(load_be16(a + af::oper), 1);   // both ARP frames are requests
    EXPECT_EQ(mac_addr::load(a + af::sha), v->sender_mac());
    EXPECT_EQ(ipv4_addr::load(a + af::spa), v->sender_ip());
    EXPECT_EQ(mac_addr::load(a + af::tha), v->target_mac());
    EXPECT_EQ(ipv4_addr::load(a + af::tpa), v->target_ip());
    expect_bpf(f, [](ipv4_addr x) { return "arp src host " + x.to_string(); }, v->sender_ip(), v->target_ip());
    expect_bpf(f, [](ipv4_addr x) { return "arp dst host " + x.to_string(); }, v->target_ip(), v->sender_ip());
    return;
  }
  ASSERT_EQ(e->type(), ethernet::ethertype::ipv4);
  const std::byte* ip = p + ef::payload;
  namespace ipf = ipv4::field;
  auto v = ipv4::view::check(e->payload());
  ASSERT_TRUE(v);
  EXPECT_EQ(load_u8(ip + ipf::ver_ihl) >> 4, 4);
  EXPECT_EQ(std::size_t{load_u8(ip + ipf::ver_ihl) & 0x0fu} * 4, v->header_len());
  EXPECT_EQ(load_u8(ip + ipf::tos), v->tos());
  EXPECT_EQ(load_be16(ip + ipf::total_len), v->total_len());
  EXPECT_EQ(load_be16(ip + ipf::ident), v->ident());
  EXPECT_EQ(load_be16(ip + ipf::flags_frag) & ipv4::fragment_mask, 0);   // no fragments in these traces
  EXPECT_EQ((load_be16(ip + ipf::flags_frag) & ipv4::flag_dont_frag) != 0, v->dont_frag());
  EXPECT_EQ(load_u8(ip + ipf::ttl), v->ttl());
  EXPECT_EQ(load_u8(ip + ipf::proto), v->proto());
  EXPECT_EQ(load_be16(ip + ipf::checksum), v->header_checksum());
  EXPECT_EQ(ipv4_addr::load(ip + ipf::src), v->src());
  EXPECT_EQ(ipv4_addr::load(ip + ipf::dst), v->dst());
  EXPECT_EQ(v->options().data(), ip + ipf::options);
  EXPECT_TRUE(v->verify_checksum());
  expect_bpf(f, [](ipv4_addr x) { return "ip src host " + x.to_string(); }, v->src(), ipv4_addr{10, 9, 9, 9});
  expect_bpf(f, [](ipv4_addr x) { return "ip dst host " + x.to_string(); }, v->dst(), ipv4_addr{10, 9, 9, 9});
  expect_bpf(f, [](unsigned x) { return "ip proto " + num(x); }, unsigned{v->proto()}, 6u);
  const bool df = (load_be16(ip + ipf::flags_frag) & ipv4::flag_dont_frag) != 0;
  EXPECT_EQ(bpf_matches("ip[6] & 0x40 != 0", f), df);   // DF, as tcpdump's manual spells it

  const std::byte* l4 = ip + v->header_len();
  if (v->proto() == udp::ip_protocol) {
    ++s.udp;
    namespace uf = udp::field;
    auto u = udp::view::check(v->payload());
    ASSERT_TRUE(u);
    EXPECT_EQ(load_be16(l4 + uf::src_port), u->src_port());
    EXPECT_EQ(load_be16(l4 + uf::dst_port), u->dst_port());
    EXPECT_EQ(load_be16(l4 + uf::length), u->length());
    EXPECT_EQ(load_be16(l4 + uf::length), v->total_len() - v->header_len());   // two fields, one length
    EXPECT_EQ(load_be16(l4 + uf::checksum), u->checksum());
    EXPECT_EQ(u->payload().data(), l4 + uf::payload);
    EXPECT_TRUE(u->verify_checksum(v->src(), v->dst()));
    expect_bpf(f, [](unsigned x) { return "udp src port " + num(x); }, unsigned{u->src_port()}, 7u);
    expect_bpf(f, [](unsigned x) { return "udp dst port " + num(x); }, unsigned{u->dst_port()}, 7u);
    // The lenient flow parse sees the same tuple.
    const auto fl = ipv4_flow::find(f);
    ASSERT_TRUE(fl);
    EXPECT_EQ(*fl, (ipv4_flow{v->src(), v->dst(), udp::ip_protocol, false, true, u->src_port(), u->dst_port()}));
  } else if (v->proto() == icmp::ip_protocol) {
    ++s.icmp;
    namespace icf = icmp::field;
    auto m = icmp::view::check(v->payload());
    ASSERT_TRUE(m);
    EXPECT_EQ(load_u8(l4 + icf::type), m->msg_type());
    EXPECT_EQ(load_u8(l4 + icf::code), m->code());
    EXPECT_EQ(load_be16(l4 + icf::checksum), m->checksum());
    EXPECT_EQ(load_be16(l4 + icf::ident), m->ident());
    EXPECT_EQ(load_be16(l4 + icf::ident), 0x524c);   // traces/README.md
    EXPECT_EQ(load_be16(l4 + icf::seq_no), m->seq_no());
    EXPECT_EQ(load_be16(l4 + icf::seq_no), s.icmp);   // seq 1, then 2
    EXPECT_EQ(m->data().data(), l4 + icf::data);
    EXPECT_EQ(m->data().size(), 56u);
    EXPECT_TRUE(m->verify_checksum());
    // libpcap names these two offsets itself (icmptype = 0, icmpcode = 1).
    EXPECT_TRUE(bpf_matches("icmp[icmptype] = icmp-echo and icmp[icmpcode] = 0", f));
    EXPECT_FALSE(bpf_matches("icmp[icmptype] = icmp-echoreply", f));
  } else {
    ASSERT_EQ(v->proto(), igmp::ip_protocol);
    ++s.igmp;
    namespace gf = igmp::field;
    auto g = igmp::view::check(v->payload());
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->verify_checksum());
    EXPECT_EQ(v->header_len(), 24u);   // Router Alert
    EXPECT_TRUE(ipv4::repr::has_router_alert(v->options()));
    EXPECT_EQ(load_u8(l4 + gf::type), g->msg_type());
    EXPECT_EQ(load_u8(l4 + gf::type), 0x11);   // the three IGMP frames are queries
    EXPECT_EQ(load_u8(l4 + gf::max_resp), g->max_resp_code());
    EXPECT_EQ(load_be16(l4 + gf::checksum), g->checksum());
    EXPECT_EQ(ipv4_addr::load(l4 + gf::group), g->group());
    EXPECT_TRUE(bpf_matches("igmp and ip[8] = 1", f));   // TTL 1 (traces/README.md)
    // traces/README.md: (3) v2 general query 10 s, (4) v3 general query QRV 2 QQIC 125, (5) v2 query
    // for 239.1.1.1, 1 s.
    if (s.igmp == 1) {
      EXPECT_FALSE(g->is_v3_query());
      EXPECT_EQ(load_u8(l4 + gf::max_resp), 100);
      EXPECT_EQ(ipv4_addr::load(l4 + gf::group), ipv4_addr::any());
    } else if (s.igmp == 2) {
      ASSERT_TRUE(g->is_v3_query());
      EXPECT_EQ(load_u8(l4 + gf::s_qrv) & igmp::qrv_mask, g->qrv());
      EXPECT_EQ(g->qrv(), 2);
      EXPECT_EQ(load_u8(l4 + gf::qqic), g->qqic());
      EXPECT_EQ(g->qqic(), 125);
      EXPECT_EQ(load_be16(l4 + gf::num_sources), g->source_count());
      EXPECT_EQ(g->sources().bytes().data(), l4 + gf::sources);
    } else {
      EXPECT_EQ(load_u8(l4 + gf::max_resp), 10);
      EXPECT_EQ(ipv4_addr::load(l4 + gf::group), (ipv4_addr{239, 1, 1, 1}));
    }
  }
}

TEST(Field, OffsetsAgreeWithViewsAndLibpcapOnTheControlPlaneTrace) {
  const auto frames = read_pcap(traces() / "arp-icmp-igmp.pcap");
  ASSERT_EQ(frames.size(), 7u);
  seen s;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE("arp-icmp-igmp.pcap frame " + std::to_string(i + 1));
    check_frame(frames[i], s);
  }
  EXPECT_EQ(s.arp, 2);
  EXPECT_EQ(s.icmp, 2);
  EXPECT_EQ(s.igmp, 3);
}

TEST(Field, OffsetsAgreeWithViewsAndLibpcapOnTheFlowsTrace) {
  const auto frames = read_pcap(traces() / "flows.pcap", 64);
  ASSERT_EQ(frames.size(), 64u);
  seen s;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE("flows.pcap frame " + std::to_string(i + 1));
    check_frame(frames[i], s);
  }
  EXPECT_EQ(s.udp, 64);
}

// The tagged layout: tci and inner_type, and the payload after the tag.
TEST(Field, TaggedEthernetOffsets) {
  std::array<std::byte, 64> b{};
  ethernet::repr r{mac_addr{2, 0, 0, 0, 0, 1}, mac_addr{2, 0, 0, 0, 0, 2}, ethernet::ethertype::ipv4, 100, 3};
  ASSERT_EQ(r.emit(b), ethernet::field::tagged_payload);
  EXPECT_EQ(load_be16(b.data() + ethernet::field::type), 0x8100);
  EXPECT_EQ(load_be16(b.data() + ethernet::field::tci), 3u << 13 | 100u);
  EXPECT_EQ(load_be16(b.data() + ethernet::field::inner_type), 0x0800);
  auto v = ethernet::view::check(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload().data(), b.data() + ethernet::field::tagged_payload);
  EXPECT_TRUE(bpf_matches("vlan 100 and ip", b));
  EXPECT_FALSE(bpf_matches("vlan 101", b));
}

}  // namespace
}  // namespace ringlab::wire
