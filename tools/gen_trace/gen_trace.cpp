#include "tools/gen_trace/gen_trace.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <tuple>

#include "stack/iface/interface_config.hpp"
#include "stack/socket/tcp_secret.hpp"
#include "stack/wire/wire.hpp"
#include "tools/mcast/datagram.hpp"   // the datagram header's constants only (no link dependency)

namespace ringlab::gen_trace {
namespace {

using wire::ipv4_addr;
using wire::mac_addr;
using trace::drop_reason;

constexpr std::size_t min_frame = wire::ethernet::min_frame_len;

std::uint64_t stamp(const options& o, std::uint64_t i) {
  return start_ns + static_cast<std::uint64_t>(std::llround(static_cast<double>(i) * 1e9 / o.pps));
}

// The lab's datagram header (tools/mcast/datagram.hpp): magic, version, header length, seq, send_ns.
void put_mcast_header(std::byte* p, std::uint64_t seq, std::uint64_t send_ns) {
  wire::store_be32(p, mcast::datagram_magic);
  wire::store_be16(p + 4, mcast::datagram_version);
  wire::store_be16(p + 6, static_cast<std::uint16_t>(mcast::header_size));
  wire::store_be64(p + 8, seq);
  wire::store_be64(p + 16, send_ns);
}

struct udp_spec {
  mac_addr src_mac = peer_mac;
  mac_addr dst_mac = host_mac;
  ipv4_addr src = peer_ip;
  ipv4_addr dst = host_ip;
  std::uint16_t sport = 40000;
  std::uint16_t dport = first_port;
  std::uint16_t ident = 0;
  std::uint8_t ttl = 64;
  std::optional<std::uint16_t> vlan;
  bool pad = true;   // to the 60-byte Ethernet minimum
};

// An Ethernet + IPv4 + UDP frame with correct checksums around the payload.
std::vector<std::byte> udp_frame(const udp_spec& s, std::span<const std::byte> payload) {
  const wire::ethernet::repr eth{s.src_mac, s.dst_mac, wire::ethernet::ethertype::ipv4, s.vlan, 0};
  const wire::udp::repr u{s.sport, s.dport, payload};
  wire::ipv4::repr ip{s.src, s.dst, wire::udp::ip_protocol, static_cast<std::uint16_t>(u.buffer_len())};
  ip.ttl = s.ttl;
  ip.ident = s.ident;
  const std::size_t len = eth.buffer_len() + ip.buffer_len() + u.buffer_len();
  std::vector<std::byte> f(s.pad ? std::max(len, min_frame) : len);
  std::size_t at = eth.emit(f);
  at += ip.emit(std::span(f).subspan(at));
  u.emit(std::span(f).subspan(at), s.src, s.dst);
  return f;
}

std::vector<std::byte> frame_of(const wire::ethernet::repr& eth, const wire::ipv4::repr& ip,
                                std::span<const std::byte> l4) {
  std::vector<std::byte> f(std::max(eth.buffer_len() + ip.buffer_len() + l4.size(), min_frame));
  std::size_t at = eth.emit(f);
  at += ip.emit(std::span(f).subspan(at));
  std::ranges::copy(l4, f.begin() + static_cast<std::ptrdiff_t>(at));
  return f;
}

packet make_packet(std::vector<std::byte> bytes, std::uint64_t t_ns) {
  packet p;
  p.wire_len = static_cast<std::uint32_t>(bytes.size());
  p.bytes = std::move(bytes);
  p.t_ns = t_ns;
  return p;
}

// Quote-like text after the header: "px=101.25 q=300 " repeated, cut to fit.
void put_quote_text(std::span<std::byte> out, std::mt19937_64& rng) {
  char text[48];
  const int n = std::snprintf(text, sizeof text, "px=%u.%02u q=%u ", static_cast<unsigned>(100 + rng() % 50),
                              static_cast<unsigned>(rng() % 100), static_cast<unsigned>(100 * (1 + rng() % 20)));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(text[i % static_cast<std::size_t>(n)]);
}

// The two kinds of any length hand each packet to the sink as it is made (flat memory at 10^7).
void mcast_feed(const options& o, const packet_sink& sink) {
  std::mt19937_64 rng(o.seed);
  std::vector<std::uint64_t> seq(o.groups, 0);
  std::vector<std::byte> payload(o.size);
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const auto g = static_cast<std::uint32_t>(rng() % o.groups);
    const std::uint64_t t = stamp(o, i);
    put_mcast_header(payload.data(), seq[g]++, t);
    put_quote_text(std::span(payload).subspan(mcast::header_size), rng);
    udp_spec s;
    s.dst = ipv4_addr{first_group.value + g};
    s.dst_mac = wire::multicast_mac(s.dst);
    s.dport = static_cast<std::uint16_t>(first_port + g);
    s.sport = 40000;
    s.ident = static_cast<std::uint16_t>(i);
    s.ttl = 16;
    sink(make_packet(udp_frame(s, payload), t));
  }
}

void flows(const options& o, const packet_sink& sink) {
  std::mt19937_64 rng(o.seed);
  struct flow {
    ipv4_addr src;
    std::uint16_t sport, dport;
    std::uint64_t seq = 0;
  };
  std::vector<flow> fl;
  std::set<std::tuple<std::uint32_t, std::uint16_t, std::uint16_t>> seen;
  while (fl.size() < o.flows) {
    const ipv4_addr src{10, 1, static_cast<std::uint8_t>(rng() % 256), static_cast<std::uint8_t>(1 + rng() % 254)};
    const auto sport = static_cast<std::uint16_t>(1024 + rng() % 64000);
    const auto dport = static_cast<std::uint16_t>(first_port + rng() % 4);
    if (seen.emplace(src.value, sport, dport).second) fl.push_back({src, sport, dport});
  }
  std::vector<std::byte> payload(o.size);
  for (std::uint64_t i = 0; i < o.count; ++i) {
    flow& f = fl[rng() % fl.size()];
    const std::uint64_t t = stamp(o, i);
    put_mcast_header(payload.data(), f.seq++, t);
    std::fill(payload.begin() + mcast::header_size, payload.end(), std::byte{0});
    udp_spec s;
    s.src = f.src;
    s.sport = f.sport;
    s.dport = f.dport;
    s.ident = static_cast<std::uint16_t>(f.seq);
    sink(make_packet(udp_frame(s, payload), t));
  }
}

constexpr std::array<malformed_case, 15> cases{{
    {"valid", "UDP 10.0.0.1:40000 -> 10.0.0.2:5001, 32-byte mcast datagram: the frame the others are made from",
     drop_reason::none, false, "deliver"},
    {"runt_header", "the first 10 bytes of a frame (< 14: not even an Ethernet header)", drop_reason::runt, true,
     "drop: runt"},
    {"runt_frame",
     "a whole UDP frame of 46 bytes, not padded to the 60-byte minimum: a runt to a NIC that enforces it "
     "(sim_nic with runt_len 60); sim_nic's default runt_len is 14, so it is delivered",
     drop_reason::runt, false, "deliver"},
    {"bad_ethertype", "ethertype 0x88b5 (IEEE local experimental) around an IPv4 packet", drop_reason::bad_ethertype,
     false, "drop: bad_ethertype"},
    {"vlan_udp", "valid UDP inside an 802.1Q tag, VLAN 100 (accepted, tag skipped)", drop_reason::none, false,
     "deliver"},
    {"bad_ip_version", "ethertype IPv4 but version 6 in the header", drop_reason::bad_ip_version, true,
     "drop: bad_ip_version"},
    {"ihl_lt_5", "IPv4 IHL 4 (16-byte header), header checksum correct over 20 bytes", drop_reason::bad_ip_header_len,
     true, "drop: bad_ip_header_len"},
    {"ihl_gt_total", "IPv4 IHL 15 (60 bytes) but total length 40", drop_reason::bad_ip_header_len, true,
     "drop: bad_ip_header_len"},
    {"total_len_gt_frame", "IPv4 total length 200 in a 74-byte frame", drop_reason::bad_ip_total_len, true,
     "drop: bad_ip_total_len"},
    {"bad_ip_checksum", "IPv4 header checksum off by one", drop_reason::bad_ip_checksum, true,
     "drop: bad_ip_checksum"},
    {"ipv4_fragment",
     "first fragment (MF set, offset 0) of a UDP datagram: the stack holds it for reassembly and drops it as "
     "fragment_timeout when its 30 s timer runs",
     drop_reason::fragment, false, "held"},
    {"bad_udp_length", "UDP length 100 > the 40 bytes of IPv4 payload (checksum 0)", drop_reason::bad_l4_length, true,
     "drop: bad_l4_length"},
    {"bad_udp_checksum", "UDP checksum wrong (0x0101 flipped)", drop_reason::bad_l4_checksum, true,
     "drop: bad_l4_checksum"},
    {"udp_zero_checksum", "UDP checksum 0 (none): valid over IPv4", drop_reason::none, false, "deliver"},
    {"truncated_capture", "caplen 42 < len 74: the capture cut the frame", drop_reason::snap_truncated, false,
     "drop: snap_truncated"},
}};

// Where the malformed cases write: an untagged frame, IPv4 without options.
constexpr std::size_t ip_at = wire::ethernet::header_len;
constexpr std::size_t udp_at = ip_at + wire::ipv4::min_header_len;
namespace ipf = wire::ipv4::field;
namespace udpf = wire::udp::field;

void fix_ip_checksum(std::span<std::byte> f, std::size_t hl = wire::ipv4::min_header_len) {
  wire::store_be16(f.data() + ip_at + ipf::checksum, 0);
  wire::store_be16(f.data() + ip_at + ipf::checksum, wire::checksum::compute(f.subspan(ip_at, hl)));
}

std::vector<packet> malformed(const options& o) {
  std::vector<std::byte> payload(32);
  std::vector<packet> out;
  auto base = [&](std::uint64_t n) {
    put_mcast_header(payload.data(), n, stamp(o, n - 1));
    std::ranges::copy(std::as_bytes(std::span("malforme", 8)), payload.begin() + 24);
    udp_spec s;
    s.ident = static_cast<std::uint16_t>(n);
    return std::pair{s, udp_frame(s, payload)};
  };
  for (std::uint64_t n = 1; n <= cases.size(); ++n) {
    auto [spec, f] = base(n);
    std::uint32_t wire_len = 0;
    const std::string_view name = cases[n - 1].name;
    if (name == "runt_header") {
      f.resize(10);
    } else if (name == "runt_frame") {
      spec.pad = false;
      f = udp_frame(spec, std::span(payload).first(4));
    } else if (name == "bad_ethertype") {
      wire::store_be16(f.data() + wire::ethernet::field::type, 0x88b5);
    } else if (name == "vlan_udp") {
      spec.vlan = 100;
      f = udp_frame(spec, payload);
    } else if (name == "bad_ip_version") {
      f[ip_at + ipf::ver_ihl] = std::byte{0x65};
      fix_ip_checksum(f);
    } else if (name == "ihl_lt_5") {
      f[ip_at + ipf::ver_ihl] = std::byte{0x44};
      fix_ip_checksum(f);
    } else if (name == "ihl_gt_total") {
      f[ip_at + ipf::ver_ihl] = std::byte{0x4f};
      wire::store_be16(f.data() + ip_at + ipf::total_len, 40);
      fix_ip_checksum(f, 60);
    } else if (name == "total_len_gt_frame") {
      wire::store_be16(f.data() + ip_at + ipf::total_len, 200);
      fix_ip_checksum(f);
    } else if (name == "bad_ip_checksum") {
      std::byte* c = f.data() + ip_at + ipf::checksum;
      wire::store_be16(c, static_cast<std::uint16_t>(wire::load_be16(c) + 1));
    } else if (name == "ipv4_fragment") {
      wire::store_be16(f.data() + ip_at + ipf::flags_frag, wire::ipv4::flag_more_frags);
      fix_ip_checksum(f);
    } else if (name == "bad_udp_length") {
      wire::store_be16(f.data() + udp_at + udpf::length, 100);
      wire::store_be16(f.data() + udp_at + udpf::checksum, 0);
    } else if (name == "bad_udp_checksum") {
      std::byte* c = f.data() + udp_at + udpf::checksum;
      wire::store_be16(c, wire::load_be16(c) ^ 0x0101);
    } else if (name == "udp_zero_checksum") {
      wire::store_be16(f.data() + udp_at + udpf::checksum, 0);
    } else if (name == "truncated_capture") {
      wire_len = static_cast<std::uint32_t>(f.size());
      f.resize(42);
    }
    packet p = make_packet(std::move(f), stamp(o, n - 1));
    if (wire_len) p.wire_len = wire_len;
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<packet> arp_icmp_igmp(const options& o) {
  std::vector<packet> out;
  auto add = [&](std::vector<std::byte> f) { out.push_back(make_packet(std::move(f), stamp(o, out.size()))); };
  using wire::ethernet::ethertype;

  auto arp_request = [&](ipv4_addr target) {
    const wire::ethernet::repr eth{peer_mac, mac_addr::broadcast(), ethertype::arp, std::nullopt, 0};
    const wire::arp::repr a{wire::arp::operation::request, peer_mac, peer_ip, mac_addr{}, target};
    std::vector<std::byte> f(min_frame);
    a.emit(std::span(f).subspan(eth.emit(f)));
    return f;
  };
  auto ping = [&](std::uint16_t seq) {
    std::array<std::byte, 56> data{};
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i);
    const wire::icmp::repr e{wire::icmp::type::echo_request, 0x524c, seq, data};
    std::vector<std::byte> l4(e.buffer_len());
    e.emit(l4);
    wire::ipv4::repr ip{peer_ip, host_ip, wire::icmp::ip_protocol, static_cast<std::uint16_t>(l4.size())};
    ip.ident = seq;
    return frame_of({peer_mac, host_mac, ethertype::ipv4, std::nullopt, 0}, ip, l4);
  };
  auto igmp_query = [&](const wire::igmp::repr& q, ipv4_addr dst) {
    std::vector<std::byte> l4(q.buffer_len());
    q.emit(l4);
    wire::ipv4::repr ip{peer_ip, dst, wire::igmp::ip_protocol, static_cast<std::uint16_t>(l4.size())};
    ip.ttl = 1;
    ip.tos = 0xc0;
    ip.router_alert = true;
    return frame_of({peer_mac, wire::multicast_mac(dst), ethertype::ipv4, std::nullopt, 0}, ip, l4);
  };

  add(arp_request(host_ip));
  add(ping(1));
  wire::igmp::repr v2;
  v2.max_resp_code = 100;
  add(igmp_query(v2, ipv4_addr::all_systems()));
  wire::igmp::repr v3 = v2;
  v3.version = 3;
  v3.qrv = 2;
  v3.qqic = 125;
  add(igmp_query(v3, ipv4_addr::all_systems()));
  wire::igmp::repr specific = v2;
  specific.max_resp_code = 10;
  specific.group = first_group;
  add(igmp_query(specific, first_group));
  add(arp_request({10, 0, 0, 3}));
  add(ping(2));
  return out;
}

constexpr tcp_case tcp_cases[] = {
    {"syn", "SYN 10.0.0.1:40000 -> 10.0.0.2:5001, ISS 1000, MSS 1460, window 65535", "deliver"},
    {"ack", "the handshake's ACK of the host's SYN-ACK (ack = the host's ISS + 1)", "deliver"},
    {"data", "64 bytes of data (PSH), seq 1001", "deliver"},
    {"old_duplicate", "the same 64 bytes again: all before RCV.NXT, answered with an ACK", "drop: tcp_out_of_window"},
    {"bad_checksum", "16 more bytes, TCP checksum off by one", "drop: bad_l4_checksum"},
    {"syn_no_listener", "SYN from port 40001 to port 5002, where nothing listens: answered with RST", "drop: no_socket"},
    {"fin", "FIN after the 64 bytes (the 16 were never accepted): the reader closes at the end of the stream", "deliver"},
    {"last_ack", "the ACK of the host's FIN (its application closed at end of stream)", "deliver"},
};

// --count datagrams of one flow as IPv4 fragments (gen_trace.hpp says what and why). Datagram d's
// payload is printable text that names it, so a datagram glued from two (the planted bug) reads so.
std::vector<packet> fragments(const options& o) {
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> frames;   // (datagram, frame)
  std::vector<std::vector<std::byte>> extra(o.count);                     // a datagram's added fragment
  for (std::uint64_t d = 0; d < o.count; ++d) {
    std::vector<std::byte> payload(fragment_payload);
    for (std::size_t k = 0; k < payload.size(); ++k)
      payload[k] = static_cast<std::byte>('A' + (d + k / 100) % 26);
    const std::string name = "dgram " + std::to_string(d + 1);
    std::ranges::copy(std::as_bytes(std::span(name.data(), name.size())), payload.begin());
    udp_spec sp;
    sp.ident = static_cast<std::uint16_t>(d + 1);
    const std::vector<std::byte> whole = udp_frame(sp, payload);
    const std::span<const std::byte> l4 = std::span(whole).subspan(udp_at);
    auto piece = [&](std::size_t off, std::size_t len, bool more, std::optional<std::byte> fill = {}) {
      // One buffer of the final size, filled by memcpy (GCC 12 -O2 warns falsely on vector::insert here).
      std::vector<std::byte> f(std::max(udp_at + len, min_frame));
      std::memcpy(f.data(), whole.data(), udp_at);
      if (fill) std::memset(f.data() + udp_at, static_cast<int>(*fill), len);
      else std::memcpy(f.data() + udp_at, l4.data() + off, len);
      wire::store_be16(f.data() + ip_at + ipf::total_len, static_cast<std::uint16_t>(wire::ipv4::min_header_len + len));
      wire::store_be16(f.data() + ip_at + ipf::flags_frag,
                       static_cast<std::uint16_t>((more ? wire::ipv4::flag_more_frags : 0) | off / 8));
      fix_ip_checksum(f);
      return f;
    };
    const std::size_t a = fragment_piece, b = 2 * fragment_piece;
    frames.push_back({d, piece(0, a, true)});
    frames.push_back({d, piece(a, a, true)});
    frames.push_back({d, piece(b, l4.size() - b, false)});
    if (d % 32 == 23) extra[d] = piece(a - 8, 16, true, std::byte{0xee});   // overlaps the first two
  }
  // Neighbours interleaved: a third of the fragments overtaken by up to 3 later ones (seeded).
  std::mt19937_64 rng(o.seed);
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    const std::uint64_t r = rng();
    if (r % 3 != 0) continue;
    const std::size_t ahead = 1 + static_cast<std::size_t>((r >> 8) % std::min<std::size_t>(3, frames.size() - 1 - i));
    std::swap(frames[i], frames[i + ahead]);
  }
  // The added fragment right after its datagram's first to arrive, so it meets the datagram before
  // it can complete: the duplicate (d % 32 == 7) repeats that first fragment, the overlap was made above.
  std::vector<packet> out;
  std::vector<bool> seen(o.count, false);
  for (auto& [d, f] : frames) {
    const bool first = !seen[d];
    seen[d] = true;
    std::vector<std::byte> dup;
    if (first && d % 32 == 7) dup = f;
    out.push_back(make_packet(std::move(f), stamp(o, out.size())));
    if (first && d % 32 == 7) out.push_back(make_packet(std::move(dup), stamp(o, out.size())));
    if (first && !extra[d].empty()) out.push_back(make_packet(std::move(extra[d]), stamp(o, out.size())));
  }
  return out;
}

// The client side of one connection to host:5001 (tcp_cases, in order), a frame per millisecond.
std::vector<packet> tcp_handshake(const options& o) {
  using wire::tcp::flag::ack;
  using wire::tcp::flag::fin;
  using wire::tcp::flag::psh;
  using wire::tcp::flag::syn;
  constexpr std::uint32_t iss = 1000;
  // The host's ISS for this 4-tuple when the SYN arrives at its timestamp: what tcp_lane computes.
  const stack::tcp_secret secret(stack::interface_config{}.tcp_secret);
  const std::uint64_t t0 = stamp(o, 0);
  const std::uint32_t host_iss =
      secret.iss(stack::tcp_key{{host_ip, tcp_port}, {peer_ip, 40000}}, static_cast<stack::time_ns>(t0));
  std::array<std::byte, 64> data{};
  const std::string_view text = "GET /quotes/RLMC HTTP/1.0\r\nHost: 10.0.0.2\r\nUser-Agent: ringlab\r\n\r\n";
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i < text.size() ? text[i] : ' ');
  std::array<std::byte, 16> more{};
  for (std::size_t i = 0; i < more.size(); ++i) more[i] = static_cast<std::byte>('a' + i);

  std::vector<packet> out;
  auto add = [&](std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ackno, std::uint8_t flags,
                 std::span<const std::byte> payload, bool mss, bool bad_sum) {
    wire::tcp::repr t;
    t.src_port = sport, t.dst_port = dport, t.seq = seq, t.ack = ackno, t.flags = flags, t.window = 65535;
    t.payload = payload;
    if (mss) t.opts.mss = 1460;
    std::vector<std::byte> l4(t.buffer_len());
    t.emit(l4, peer_ip, host_ip);
    if (bad_sum) wire::store_be16(l4.data() + 16, static_cast<std::uint16_t>(wire::load_be16(l4.data() + 16) + 1));
    wire::ipv4::repr ip{peer_ip, host_ip, wire::tcp::ip_protocol, static_cast<std::uint16_t>(l4.size())};
    ip.ident = static_cast<std::uint16_t>(out.size() + 1);
    out.push_back(make_packet(frame_of({peer_mac, host_mac, wire::ethernet::ethertype::ipv4, std::nullopt, 0}, ip, l4),
                              stamp(o, out.size())));
  };
  add(40000, tcp_port, iss, 0, syn, {}, true, false);
  add(40000, tcp_port, iss + 1, host_iss + 1, ack, {}, false, false);
  add(40000, tcp_port, iss + 1, host_iss + 1, psh | ack, data, false, false);
  add(40000, tcp_port, iss + 1, host_iss + 1, psh | ack, data, false, false);
  add(40000, tcp_port, iss + 65, host_iss + 1, psh | ack, more, false, true);
  add(40001, 5002, 7000, 0, syn, {}, true, false);
  add(40000, tcp_port, iss + 65, host_iss + 1, fin | ack, {}, false, false);
  add(40000, tcp_port, iss + 66, host_iss + 2, ack, {}, false, false);
  return out;
}

}  // namespace

std::span<const tcp_case> tcp_handshake_cases() noexcept { return tcp_cases; }

std::optional<kind> parse_kind(std::string_view s) noexcept {
  for (kind k : {kind::mcast_feed, kind::flows, kind::malformed, kind::arp_icmp_igmp, kind::tcp_handshake,
                 kind::fragments})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

std::string_view to_string(kind k) noexcept {
  switch (k) {
    case kind::mcast_feed: return "mcast-feed";
    case kind::flows: return "flows";
    case kind::malformed: return "malformed";
    case kind::arp_icmp_igmp: return "arp-icmp-igmp";
    case kind::tcp_handshake: return "tcp-handshake";
    case kind::fragments: return "fragments";
  }
  return "?";
}

std::string check(const options& o) {
  if (o.groups < 1 || o.groups > 254) return "--groups: " + std::to_string(o.groups) + " is not in 1..254";
  if (o.flows < 1 || o.flows > 100000) return "--flows: " + std::to_string(o.flows) + " is not in 1..100000";
  if (!(o.pps > 0) || o.pps > 1e9) return "--pps: must be in (0, 1e9]";
  if (o.size < mcast::header_size || o.size > 1472)
    return "--size: " + std::to_string(o.size) + " is not in " + std::to_string(mcast::header_size) +
           "..1472 (UDP payload bytes: the 24-byte datagram header fits, the frame fits a 1500 MTU)";
  if (o.count > 10'000'000) return "--count: " + std::to_string(o.count) + " is more than 10000000";
  return {};
}

std::span<const malformed_case> malformed_cases() noexcept { return cases; }

void generate_each(const options& o, const packet_sink& sink) {
  auto each = [&](std::vector<packet> fixed) {
    for (const packet& p : fixed) sink(p);
  };
  switch (o.what) {
    case kind::mcast_feed: return mcast_feed(o, sink);
    case kind::flows: return flows(o, sink);
    case kind::malformed: return each(malformed(o));
    case kind::arp_icmp_igmp: return each(arp_icmp_igmp(o));
    case kind::tcp_handshake: return each(tcp_handshake(o));
    case kind::fragments: return each(fragments(o));
  }
}

std::vector<packet> generate(const options& o) {
  std::vector<packet> out;
  generate_each(o, [&](const packet& p) { out.push_back(p); });
  return out;
}

namespace {
// libpcap's dumper around a producer that calls the given sink once per packet.
std::string write_each(const std::string& path, const std::function<void(const packet_sink&)>& produce) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (!dead) return "pcap_open_dead failed";
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  if (!d) {
    std::string e = pcap_geterr(dead);   // names the file already
    pcap_close(dead);
    return e;
  }
  produce([d](const packet& p) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(p.t_ns / 1'000'000'000u);
    h.ts.tv_usec = static_cast<suseconds_t>(p.t_ns % 1'000'000'000u);   // nanoseconds in a nano pcap
    h.caplen = static_cast<bpf_u_int32>(p.bytes.size());
    h.len = p.wire_len;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, reinterpret_cast<const u_char*>(p.bytes.data()));
  });
  const bool ok = pcap_dump_flush(d) == 0 && !std::ferror(pcap_dump_file(d));
  pcap_dump_close(d);
  pcap_close(dead);
  return ok ? std::string{} : path + ": write failed";
}

}  // namespace

std::string write_pcap(const std::string& path, std::span<const packet> packets) {
  return write_each(path, [&](const packet_sink& sink) {
    for (const packet& p : packets) sink(p);
  });
}

std::string generate_pcap(const std::string& path, const options& o, std::uint64_t* count) {
  std::uint64_t n = 0;
  std::string e = write_each(path, [&](const packet_sink& sink) {
    generate_each(o, [&](const packet& p) {
      sink(p);
      ++n;
    });
  });
  if (count) *count = n;
  return e;
}

}  // namespace ringlab::gen_trace
