#include "tests/fuzz/parsers/parser_entries.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "stack/wire/ipv4_flow.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/wire.hpp"
#include "tests/unit/stack/test_port.hpp"

namespace ringlab::fuzz {
namespace {

// A property that must hold for any input. abort(), not an exception or a return: libFuzzer then
// keeps the input as a crash artifact, and a plain test run dies loudly.
#define RINGLAB_FUZZ_REQUIRE(cond)                                                                 \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__);      \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

// A part a view hands out lies inside the bytes the view was checked over.
bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) noexcept {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

outcome refused(stage st, wire::error e) noexcept { return {st, e}; }

// The first 8 bytes as the pseudo header's source and destination (UDP, TCP).
struct with_addrs {
  wire::ipv4_addr src, dst;
  std::span<const std::byte> rest;
  bool ok = false;
};
with_addrs split_addrs(std::span<const std::byte> in) noexcept {
  if (in.size() < 8) return {};
  return {wire::ipv4_addr::load(in.data()), wire::ipv4_addr::load(in.data() + 4), in.subspan(8), true};
}

// Parsing with the checksum checked (csum::full) gives what parsing without it (csum::offload, as
// when the NIC checked it) gives, or bad_checksum. The targets explore with offload: a mutation that
// breaks the checksum must not hide the parser behind it.
template <class R>
void agree_on_checksum(const wire::result<R>& offload, const wire::result<R>& full) noexcept {
  if (full) {
    RINGLAB_FUZZ_REQUIRE(offload.has_value() && *full == *offload);
  } else {
    RINGLAB_FUZZ_REQUIRE(full.error_code() == wire::error::bad_checksum || full.error_code() == offload.error_code());
  }
}

// ICMP and IGMP alike: emit the parsed repr with a full checksum, check and parse it again, equal.
template <class View, class Repr>
outcome round_trip(const Repr& r) noexcept {
  std::vector<std::byte> buf(r.buffer_len());
  RINGLAB_FUZZ_REQUIRE(r.emit(buf, wire::csum::full) == buf.size());
  const auto v2 = View::check(buf);
  RINGLAB_FUZZ_REQUIRE(v2.has_value() && v2->verify_checksum());
  const auto r2 = Repr::parse(*v2, wire::csum::full);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == r);
  return {stage::round_tripped};
}

}  // namespace

outcome fuzz_ethernet(std::span<const std::byte> in) noexcept {
  namespace eth = wire::ethernet;
  // sim_nic's lenient flow parse sees every frame before anything checks it.
  if (const auto f = wire::ipv4_flow::find(in)) RINGLAB_FUZZ_REQUIRE(!(f->has_ports && f->fragment));
  const auto v = eth::view::check(in);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  RINGLAB_FUZZ_REQUIRE(v->header_length() + v->payload().size() == in.size());
  RINGLAB_FUZZ_REQUIRE(inside(v->payload(), in));
  const auto r = eth::repr::parse(*v);
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  std::array<std::byte, eth::header_len + eth::vlan_tag_len> buf{};
  const std::size_t n = r->emit(buf);
  RINGLAB_FUZZ_REQUIRE(n == v->header_length());
  const auto v2 = eth::view::check(std::span(buf).first(n));
  RINGLAB_FUZZ_REQUIRE(v2.has_value());
  const auto r2 = eth::repr::parse(*v2);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == *r);
  return {stage::round_tripped};
}

outcome fuzz_arp(std::span<const std::byte> in) noexcept {
  namespace arp = wire::arp;
  const auto v = arp::view::check(in);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  const auto r = arp::repr::parse(*v);
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  std::array<std::byte, arp::packet_len> buf{};
  RINGLAB_FUZZ_REQUIRE(r->emit(buf) == arp::packet_len);
  const auto v2 = arp::view::check(buf);
  RINGLAB_FUZZ_REQUIRE(v2.has_value());
  const auto r2 = arp::repr::parse(*v2);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == *r);
  // What a valid request or reply says survives byte for byte (htype..tpa).
  RINGLAB_FUZZ_REQUIRE(std::equal(buf.begin(), buf.end(), in.begin()));
  return {stage::round_tripped};
}

outcome fuzz_ipv4(std::span<const std::byte> in) noexcept {
  namespace ip = wire::ipv4;
  const auto v = ip::view::check(in);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  RINGLAB_FUZZ_REQUIRE(v->header_len() >= ip::min_header_len && v->header_len() <= ip::max_header_len);
  RINGLAB_FUZZ_REQUIRE(v->options().size() == v->header_len() - ip::min_header_len && inside(v->options(), in));
  RINGLAB_FUZZ_REQUIRE(v->payload().size() == v->total_len() - v->header_len() && inside(v->payload(), in));
  (void)ip::repr::has_router_alert(v->options());   // any option bytes: the walk ends
  // A router's TTL rewrite keeps a good header checksum good (RFC 1624 update).
  if (v->verify_checksum()) {
    std::array<std::byte, ip::max_header_len> h{};
    std::copy(v->header().begin(), v->header().end(), h.begin());
    const auto hs = std::span(h).first(v->header_len());
    ip::set_ttl(hs, static_cast<std::uint8_t>(v->ttl() - 1));
    RINGLAB_FUZZ_REQUIRE(wire::checksum::verify(hs));
  }
  const auto r = ip::repr::parse(*v, wire::csum::offload);
  agree_on_checksum(r, ip::repr::parse(*v, wire::csum::full));
  if (!r) {
    RINGLAB_FUZZ_REQUIRE(r.error_code() != wire::error::fragment || v->is_fragment());
    return refused(stage::refused_by_parse, r.error_code());
  }
  RINGLAB_FUZZ_REQUIRE(!v->is_fragment());
  // emit writes the header; the payload is copied behind it so the re-check sees a whole datagram.
  std::vector<std::byte> buf(r->buffer_len() + r->payload_len);
  const std::size_t hl = r->emit(buf, wire::csum::full);
  RINGLAB_FUZZ_REQUIRE(hl == r->buffer_len());
  std::copy(v->payload().begin(), v->payload().end(), buf.begin() + static_cast<std::ptrdiff_t>(hl));
  const auto v2 = ip::view::check(buf);
  RINGLAB_FUZZ_REQUIRE(v2.has_value() && v2->verify_checksum());
  const auto r2 = ip::repr::parse(*v2, wire::csum::full);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == *r);
  RINGLAB_FUZZ_REQUIRE(std::ranges::equal(v2->payload(), v->payload()));
  return {stage::round_tripped};
}

outcome fuzz_icmp(std::span<const std::byte> in) noexcept {
  namespace icmp = wire::icmp;
  const auto v = icmp::view::check(in);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  const auto r = icmp::repr::parse(*v, wire::csum::offload);
  agree_on_checksum(r, icmp::repr::parse(*v, wire::csum::full));
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  RINGLAB_FUZZ_REQUIRE(inside(r->data, in));
  return round_trip<icmp::view>(*r);
}

outcome fuzz_igmp(std::span<const std::byte> in) noexcept {
  namespace igmp = wire::igmp;
  const auto v = igmp::view::check(in);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  // Every list the view hands out, walked to its end, stays inside the message.
  if (v->is_v3_query()) {
    RINGLAB_FUZZ_REQUIRE(inside(v->sources().bytes(), in));
    std::size_t n = 0;
    for (auto a : v->sources()) n += a.is_multicast();
    (void)n;
  }
  if (v->msg_type() == static_cast<std::uint8_t>(igmp::type::v3_report)) {
    RINGLAB_FUZZ_REQUIRE(inside(v->records().bytes(), in));
    std::size_t records = 0;
    for (const auto rec : v->records()) {
      RINGLAB_FUZZ_REQUIRE(inside(rec.bytes(), in) && inside(rec.sources().bytes(), in) && inside(rec.aux_data(), in));
      ++records;
    }
    RINGLAB_FUZZ_REQUIRE(records == v->record_count());
  }
  const auto r = igmp::repr::parse(*v, wire::csum::offload);
  agree_on_checksum(r, igmp::repr::parse(*v, wire::csum::full));
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  return round_trip<igmp::view>(*r);
}

outcome fuzz_udp(std::span<const std::byte> in) noexcept {
  namespace udp = wire::udp;
  const auto a = split_addrs(in);
  if (!a.ok) return refused(stage::refused_by_check, wire::error::truncated);
  const auto v = udp::view::check(a.rest);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  RINGLAB_FUZZ_REQUIRE(v->payload().size() == v->length() - udp::header_len && inside(v->payload(), a.rest));
  const auto r = udp::repr::parse(*v, a.src, a.dst, wire::csum::offload);
  agree_on_checksum(r, udp::repr::parse(*v, a.src, a.dst, wire::csum::full));
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  std::vector<std::byte> buf(r->buffer_len());
  RINGLAB_FUZZ_REQUIRE(r->emit(buf, a.src, a.dst, wire::csum::full) == buf.size());
  const auto v2 = udp::view::check(buf);
  RINGLAB_FUZZ_REQUIRE(v2.has_value() && v2->checksum() != 0 && v2->verify_checksum(a.src, a.dst));
  const auto r2 = udp::repr::parse(*v2, a.src, a.dst, wire::csum::full);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == *r);
  return {stage::round_tripped};
}

outcome fuzz_tcp_segment(std::span<const std::byte> in) noexcept {
  namespace tcp = wire::tcp;
  const auto a = split_addrs(in);
  if (!a.ok) return refused(stage::refused_by_check, wire::error::truncated);
  const auto v = tcp::view::check(a.rest);
  if (!v) return refused(stage::refused_by_check, v.error_code());
  RINGLAB_FUZZ_REQUIRE(inside(v->options(), a.rest) && inside(v->payload(), a.rest));
  RINGLAB_FUZZ_REQUIRE(v->options().size() + v->payload().size() + tcp::header_len == a.rest.size());
  const auto r = tcp::repr::parse(*v, a.src, a.dst, wire::csum::offload);
  agree_on_checksum(r, tcp::repr::parse(*v, a.src, a.dst, wire::csum::full));
  if (!r) return refused(stage::refused_by_parse, r.error_code());
  RINGLAB_FUZZ_REQUIRE(r->opts.sack_count <= tcp::max_sack_blocks);
  std::vector<std::byte> buf(r->buffer_len());
  const std::size_t n = r->emit(buf, a.src, a.dst, wire::csum::full);
  if (r->opts.buffer_len() > tcp::max_options_len) {
    // Parsed options that no sender may lay out together (four SACK blocks beside timestamps):
    // emit declines them, as its header says.
    RINGLAB_FUZZ_REQUIRE(n == 0);
    return {stage::refused_by_parse, wire::error::none};
  }
  RINGLAB_FUZZ_REQUIRE(n == buf.size());
  const auto v2 = tcp::view::check(buf);
  RINGLAB_FUZZ_REQUIRE(v2.has_value() && v2->verify_checksum(a.src, a.dst));
  const auto r2 = tcp::repr::parse(*v2, a.src, a.dst, wire::csum::full);
  RINGLAB_FUZZ_REQUIRE(r2.has_value() && *r2 == *r);
  RINGLAB_FUZZ_REQUIRE(r2->segment_len() == r->segment_len());
  return {stage::round_tripped};
}

outcome fuzz_stack(std::span<const std::byte> in) noexcept {
  using namespace ringlab::stack;
  stack::testing::test_port dev({.frames = 64, .frame_size = 2048, .headroom = 256});
  interface_config cfg;
  cfg.mac = wire::mac_addr{0x02, 0, 0, 0, 0, 0x02};
  cfg.addr = wire::ipv4_addr{10, 0, 0, 2};
  cfg.prefix_len = 24;
  cfg.gateway = wire::ipv4_addr{10, 0, 0, 254};
  outcome out{stage::round_tripped};
  std::uint64_t injected = 0;
  time_ns now = sec;
  {
    interface ifc(dev, cfg);
    udp_socket sock(ifc);
    RINGLAB_FUZZ_REQUIRE(!sock.bind({{}, 5001}));
    RINGLAB_FUZZ_REQUIRE(!sock.join_group(wire::ipv4_addr{239, 1, 1, 1}, now));
    std::array<std::byte, 2048> buf{};
    auto drain = [&] {
      std::error_code ec;
      for (;;) {
        (void)sock.try_receive_from(buf, ec);
        if (ec) break;
        ++out.delivered;
      }
      dev.sent.clear();
    };
    std::size_t at = 0;
    while (at + 3 <= in.size()) {
      const auto dt = std::to_integer<std::uint8_t>(in[at]);
      // High bit: seconds (reaches the 30 s fragment timeout in a few steps); else milliseconds.
      now += (dt & 0x80) ? time_ns{dt & 0x7fu} * sec : time_ns{dt} * ms;
      const std::uint16_t len_field = wire::load_be16(in.data() + at + 1);
      // Top bit of the length: the device vouches for the checksums (rx_meta flags), so mutated
      // headers reach reassembly and the sockets instead of stopping at a checksum.
      port::rx_meta meta;
      if (len_field & 0x8000) meta.flags = port::rx_ip_csum_good | port::rx_l4_csum_good;
      const std::size_t len = std::min<std::size_t>(len_field & 0x7fff, in.size() - at - 3);
      if (dev.inject(in.subspan(at + 3, len), meta)) ++injected;
      at += 3 + len;
      ifc.poll(now);
      drain();
    }
    now += 2 * cfg.fragments.timeout;   // every held fragment times out
    ifc.poll(now);
    drain();
    const interface_counters& c = ifc.counters();
    RINGLAB_FUZZ_REQUIRE(ifc.fragments_in_flight() == 0);
    RINGLAB_FUZZ_REQUIRE(c.rx_frames == injected);
    RINGLAB_FUZZ_REQUIRE(c.udp_delivered == out.delivered);
    out.reassembled = c.datagrams_reassembled;
    out.fragments = c.fragments_received;
    out.replies = c.arp_requests_answered + c.icmp_echo_answered;
    sock.close();
  }
  RINGLAB_FUZZ_REQUIRE(dev.pending_rx() == 0);
  RINGLAB_FUZZ_REQUIRE(dev.pool().out() == 0);   // every frame back: fragments, ARP's queue, sockets
  return out;
}

namespace {
constexpr std::array<target, 8> all{{
    {"ethernet", fuzz_ethernet, 256},
    {"arp", fuzz_arp, 64},
    {"ipv4", fuzz_ipv4, 1600},
    {"icmp", fuzz_icmp, 1600},
    {"igmp", fuzz_igmp, 1600},
    {"udp", fuzz_udp, 1600},
    {"tcp_segment", fuzz_tcp_segment, 1600},
    {"stack", fuzz_stack, 8192},
}};
}  // namespace

std::span<const target> targets() noexcept { return all; }

const target* find_target(std::string_view name) noexcept {
  for (const auto& t : all)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace ringlab::fuzz
