#include "tests/fuzz/parsers/seeds.hpp"

// GCC 12 at -O3 (the release preset) reports false -Warray-bounds and -Wstringop-overread inside
// libstdc++'s vector insert and std::set<std::vector<std::byte>> comparison once with_addrs() and
// keep() are inlined (a bound of 2^63 on memcmp: the known GCC 12 range-analysis false positive,
// docs/machine-findings.md). Off for this file only, for GCC only; clang and -O2 see nothing.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <string>

#include "sim_nic/pcap_trace.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/wire.hpp"
#include "tests/unit/stack/frames.hpp"

namespace ringlab::fuzz {
namespace {

namespace t = ringlab::stack::testing;
constexpr std::size_t per_trace = 24;    // unique seeds a target takes from one trace
constexpr std::size_t script_frames = 48;

bytes copy(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

bytes with_addrs(wire::ipv4_addr src, wire::ipv4_addr dst, std::span<const std::byte> l4) {
  bytes b(8);
  src.store(b.data());
  dst.store(b.data() + 4);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// The bytes of `frame` the target reads, or nothing when the frame does not carry that layer.
std::optional<bytes> layer(std::string_view target, std::span<const std::byte> frame) {
  if (target == "ethernet") return copy(frame);
  const auto e = wire::ethernet::view::check(frame);
  if (!e) return std::nullopt;
  if (target == "arp") return e->type() == wire::ethernet::ethertype::arp ? std::optional(copy(e->payload())) : std::nullopt;
  if (e->type() != wire::ethernet::ethertype::ipv4) return std::nullopt;
  if (target == "ipv4") return copy(e->payload());
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip) return std::nullopt;
  const std::uint8_t p = ip->proto();
  if (target == "icmp" && p == wire::icmp::ip_protocol) return copy(ip->payload());
  if (target == "igmp" && p == wire::igmp::ip_protocol) return copy(ip->payload());
  if (target == "udp" && p == wire::udp::ip_protocol) return with_addrs(ip->src(), ip->dst(), ip->payload());
  if (target == "tcp_segment" && p == wire::tcp::ip_protocol) return with_addrs(ip->src(), ip->dst(), ip->payload());
  return std::nullopt;
}

bytes l3(const bytes& frame) { return bytes(frame.begin() + wire::ethernet::header_len, frame.end()); }

bytes tcp_segment(const wire::tcp::repr& r) {
  bytes b(r.buffer_len());
  r.emit(b, t::peer_ip, t::me_ip);
  return with_addrs(t::peer_ip, t::me_ip, b);
}

// IPv4 with the given option bytes (a multiple of 4) around a UDP datagram.
bytes ipv4_with_options(std::span<const std::byte> opts) {
  const bytes u = t::udp_l4(t::peer_ip, t::me_ip, 40000, 5001, t::text("options"));
  bytes p(wire::ipv4::min_header_len + opts.size() + u.size());
  wire::ipv4::repr{t::peer_ip, t::me_ip, wire::udp::ip_protocol, static_cast<std::uint16_t>(u.size()), 64, 0, 9, false}.emit(p);
  p[0] = std::byte(0x40 | (wire::ipv4::min_header_len + opts.size()) / 4);
  wire::store_be16(p.data() + wire::ipv4::field::total_len, static_cast<std::uint16_t>(p.size()));
  std::copy(opts.begin(), opts.end(), p.begin() + wire::ipv4::min_header_len);
  std::copy(u.begin(), u.end(), p.begin() + static_cast<std::ptrdiff_t>(wire::ipv4::min_header_len + opts.size()));
  wire::store_be16(p.data() + wire::ipv4::field::checksum, 0);
  const std::size_t hl = wire::ipv4::min_header_len + opts.size();
  wire::store_be16(p.data() + wire::ipv4::field::checksum, wire::checksum::compute(std::span(p).first(hl)));
  return p;
}

bytes hex_bytes(std::initializer_list<int> v) {
  bytes b;
  for (int x : v) b.push_back(std::byte(x));
  return b;
}

std::vector<seed> crafted(std::string_view target) {
  std::vector<seed> out;
  const bytes payload = t::text("0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL");   // 58 bytes
  const bytes dgram = t::udp_l4(t::peer_ip, t::me_ip, 40000, 5001, payload);                    // 66 bytes
  // 3 pieces: 0-24, 24-48, 48-66; the stack gets them out of order.
  const auto frags = t::fragments(t::peer_ip, t::me_ip, wire::udp::ip_protocol, dgram, 77,
                                  {{0, 24}, {24, 24}, {48, dgram.size() - 48}});
  if (target == "ethernet") {
    bytes tagged = t::udp(t::peer_ip, t::me_ip, 40000, 5001, payload);
    tagged.insert(tagged.begin() + 12, {std::byte{0x81}, std::byte{0}, std::byte{0x20}, std::byte{0x64}});
    out.push_back({"vlan-100", tagged});
    bytes qinq = tagged;   // an 802.1ad tag outside the 802.1Q one
    qinq.insert(qinq.begin() + 12, {std::byte{0x88}, std::byte{0xa8}, std::byte{0}, std::byte{0x05}});
    out.push_back({"qinq", qinq});
    out.push_back({"middle-fragment", frags[1]});
  } else if (target == "arp") {
    out.push_back({"reply", l3(t::arp(wire::arp::operation::reply, t::peer_mac, t::peer_ip, t::me_mac, t::me_ip, t::me_mac))});
  } else if (target == "ipv4") {
    for (std::size_t i = 0; i < frags.size(); ++i) out.push_back({"fragment-" + std::to_string(i), l3(frags[i])});
    out.push_back({"router-alert", ipv4_with_options(hex_bytes({0x94, 0x04, 0x00, 0x00}))});
    out.push_back({"nop-ra-eol", ipv4_with_options(hex_bytes({0x01, 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00}))});
    out.push_back({"loose-source-route", ipv4_with_options(hex_bytes({0x83, 0x07, 0x04, 10, 0, 0, 9, 0x00}))});
    out.push_back({"ihl15-nops", ipv4_with_options(bytes(40, std::byte{0x01}))});
  } else if (target == "icmp") {
    bytes reply(wire::icmp::header_len + 16);
    wire::icmp::repr{wire::icmp::type::echo_reply, 0x524c, 7, std::span(payload).first(16)}.emit(reply);
    out.push_back({"echo-reply", reply});
    bytes unreach = reply;   // destination unreachable, port: valid, not echo
    unreach[0] = std::byte{3};
    unreach[1] = std::byte{3};
    wire::store_be16(unreach.data() + 2, 0);
    wire::store_be16(unreach.data() + 2, wire::checksum::compute(unreach));
    out.push_back({"port-unreachable", unreach});
  } else if (target == "igmp") {
    const std::array<wire::ipv4_addr, 2> srcs{wire::ipv4_addr{10, 0, 0, 1}, wire::ipv4_addr{10, 0, 0, 9}};
    const std::array<wire::igmp::record_repr, 2> recs{{{wire::igmp::record_type::change_to_exclude, {239, 1, 1, 1}, {}},
                                                        {wire::igmp::record_type::allow_new_sources, {239, 2, 2, 2}, srcs}}};
    bytes rep(wire::igmp::v3_report_len(recs));
    wire::igmp::emit_v3_report(recs, rep);
    out.push_back({"v3-report", rep});
    bytes q(wire::igmp::v3_query_len + 8);
    wire::igmp::repr qr;
    qr.kind = wire::igmp::type::membership_query;
    qr.version = 3;
    qr.max_resp_code = 100;
    qr.group = {239, 1, 1, 1};
    qr.qrv = 2;
    qr.qqic = 125;
    qr.sources = wire::igmp::store_addresses(srcs, std::span(q).subspan(wire::igmp::v3_query_len));
    bytes q2(qr.buffer_len());
    qr.emit(q2);
    out.push_back({"v3-query-sources", q2});
    wire::igmp::repr leave;
    leave.kind = wire::igmp::type::leave;
    leave.group = {239, 1, 1, 1};
    bytes l(leave.buffer_len());
    leave.emit(l);
    out.push_back({"leave", l});
  } else if (target == "udp") {
    out.push_back({"datagram", with_addrs(t::peer_ip, t::me_ip, dgram)});
    bytes zero = dgram;   // checksum 0: none
    wire::store_be16(zero.data() + wire::udp::field::checksum, 0);
    out.push_back({"zero-checksum", with_addrs(t::peer_ip, t::me_ip, zero)});
  } else if (target == "tcp_segment") {
    namespace tf = wire::tcp::flag;
    wire::tcp::repr syn{40000, 80, 1000, 0, tf::syn, 65535, 0, {}, {}};
    syn.opts.mss = 1460;
    syn.opts.window_scale = 7;
    syn.opts.sack_permitted = true;
    syn.opts.ts = wire::tcp::timestamps{1, 0};
    out.push_back({"syn-all-options", tcp_segment(syn)});
    wire::tcp::repr ack{40000, 80, 1001, 5001, tf::ack, 502, 0, {}, std::span(payload).first(20)};
    ack.opts.ts = wire::tcp::timestamps{2, 1};
    ack.opts.sack_count = 3;
    ack.opts.sack = {{{6001, 6101}, {6201, 6301}, {6401, 6501}, {}}};
    out.push_back({"ack-sack-ts", tcp_segment(ack)});
    wire::tcp::repr fin{40000, 80, 1021, 5001, static_cast<std::uint8_t>(tf::ack | tf::fin | tf::psh), 502, 0, {}, {}};
    out.push_back({"fin", tcp_segment(fin)});
    // An unknown option kind (30, MPTCP-like) skipped by its length, then EOL.
    bytes unk = tcp_segment(wire::tcp::repr{40000, 80, 1, 0, tf::syn, 1000, 0, {}, {}});
    unk.insert(unk.begin() + 8 + wire::tcp::header_len, {std::byte{30}, std::byte{4}, std::byte{0}, std::byte{0}});
    unk[8 + wire::tcp::field::data_offset] = std::byte{6 << 4};
    out.push_back({"unknown-option", unk});
  } else if (target == "stack") {
    bytes s;   // a fragmented datagram out of order, then the same ident again overlapping
    append_step(s, 1, frags[2]);
    append_step(s, 1, frags[0]);
    append_step(s, 1, frags[1]);
    append_step(s, 1, frags[0], true);
    append_step(s, 1, frags[0], true);
    out.push_back({"fragments-out-of-order-then-overlap", s});
    bytes lone;   // a first fragment alone: held, then dropped by the 30 s timeout
    append_step(lone, 1, frags[0]);
    append_step(lone, 0x80 | 40, t::udp(t::peer_ip, t::me_ip, 40000, 5001, payload));
    out.push_back({"fragment-timeout", lone});
    bytes ctl;   // ARP for us, an echo request, an IGMP query, a datagram to a joined group
    append_step(ctl, 1, t::arp(wire::arp::operation::request, t::peer_mac, t::peer_ip, {}, t::me_ip, wire::mac_addr::broadcast()));
    bytes echo(wire::icmp::header_len + 16);
    wire::icmp::repr{wire::icmp::type::echo_request, 1, 1, std::span(payload).first(16)}.emit(echo);
    append_step(ctl, 1, t::ipv4(t::peer_ip, t::me_ip, wire::icmp::ip_protocol, echo));
    append_step(ctl, 1, t::igmp_query({}, 100, 2));
    append_step(ctl, 0x81, t::udp(t::peer_ip, wire::ipv4_addr{239, 1, 1, 1}, 40000, 5001, payload));
    out.push_back({"arp-echo-igmp-multicast", ctl});
  }
  return out;
}

}  // namespace

void append_step(bytes& script, std::uint8_t dt, std::span<const std::byte> frame, bool csum_good) {
  script.push_back(std::byte{dt});
  script.push_back(std::byte(frame.size() >> 8 | (csum_good ? 0x80 : 0)));
  script.push_back(std::byte(frame.size() & 0xff));
  script.insert(script.end(), frame.begin(), frame.end());
}

std::vector<seed> seeds(std::string_view target, const std::filesystem::path& traces_dir, std::size_t* unreadable) {
  std::vector<seed> out;
  std::set<bytes> seen;
  auto keep = [&](std::string name, bytes b) {
    if (seen.insert(b).second) out.push_back({std::move(name), std::move(b)});
  };
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(traces_dir, ec))
    if (e.path().extension() == ".pcap" || e.path().extension() == ".pcapng") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::size_t bad = 0;
  for (const auto& f : files) {
    auto tr = sim::pcap_trace::open(f.string());
    if (!tr) {
      ++bad;
      continue;
    }
    const std::string stem = f.stem().string();
    if (target == "stack") {   // the trace's first frames as one script, 1 ms apart
      bytes s;
      std::size_t n = 0;
      for (const auto& r : tr->records()) {
        if (n++ == script_frames) break;
        append_step(s, 1, tr->bytes(r));
      }
      keep(stem, std::move(s));
      continue;
    }
    std::size_t taken = 0;
    for (const auto& r : tr->records()) {
      if (taken == per_trace) break;
      if (auto l = layer(target, tr->bytes(r))) {
        const std::size_t before = out.size();
        keep(stem + "-" + std::to_string(r.number), std::move(*l));
        taken += out.size() - before;
      }
    }
  }
  for (auto& c : crafted(target)) keep(std::move(c.name), std::move(c.data));
  if (unreadable) *unreadable = bad;
  return out;
}

}  // namespace ringlab::fuzz
