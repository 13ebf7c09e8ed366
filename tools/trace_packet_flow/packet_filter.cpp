#include "tools/trace_packet_flow/packet_filter.hpp"

#include <pcap/pcap.h>

#include <memory>
#include <span>
#include <sstream>

#include "sim_nic/pcap_stream.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_flow.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"
#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

packet_filter::packet_filter(const std::string& expression, int linktype, int snaplen) : expr_(expression) {
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(linktype, snaplen), &pcap_close);
  if (!dead) throw input_error("libpcap: cannot open a dead handle for link type " + std::to_string(linktype));
  prog_ = new bpf_program{};
  if (pcap_compile(dead.get(), prog_, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string msg = pcap_geterr(dead.get());
    delete prog_;
    prog_ = nullptr;
    throw input_error("--filter '" + expression + "': " + msg);
  }
}

packet_filter::~packet_filter() {
  if (prog_) { pcap_freecode(prog_); delete prog_; }
}

bool packet_filter::matches(const std::uint8_t* bytes, std::uint32_t caplen, std::uint32_t wire_len) const noexcept {
  pcap_pkthdr h{};
  h.caplen = caplen;
  h.len = wire_len;
  return pcap_offline_filter(prog_, &h, bytes) != 0;
}

namespace {
// The IPv4 packet in a frame of this link type (Ethernet with at most one 802.1Q tag, or raw IPv4),
// checked by stack/wire; nullopt for anything else.
std::optional<wire::ipv4::view> ipv4_in(int linktype, std::span<const std::byte> b) {
  std::span<const std::byte> l3;
  if (linktype == DLT_RAW || linktype == 12 /* LINKTYPE_RAW on some systems */ || linktype == 228 /* IPV4 */) {
    l3 = b;
  } else if (linktype == DLT_EN10MB) {
    const auto e = wire::ethernet::view::check(b);
    if (!e || e->type() != wire::ethernet::ethertype::ipv4) return std::nullopt;
    l3 = e->payload();
  } else {
    return std::nullopt;
  }
  const auto ip = wire::ipv4::view::check(l3);
  if (!ip) return std::nullopt;
  return *ip;
}

std::span<const std::byte> as_bytes(const std::uint8_t* p, std::size_t n) { return {reinterpret_cast<const std::byte*>(p), n}; }
}  // namespace

std::string ipv4_to_string(std::uint32_t a) { return wire::ipv4_addr{a}.to_string(); }

std::string tcp_flags_string(std::uint8_t flags) {
  // tcpdump's letters in tcpdump's order, which is the header's bit order: FIN SYN RST PSH ACK URG ECE CWR.
  static constexpr char letter[8] = {'F', 'S', 'R', 'P', '.', 'U', 'E', 'W'};
  std::string out;
  for (unsigned bit = 0; bit < 8; ++bit)
    if (flags & (1u << bit)) out += letter[bit];
  return out.empty() ? "none" : out;
}

// A TCP segment as tcpdump shows it: who to whom, flags in brackets, then the numbers a reader checks.
static std::string describe_tcp(wire::ipv4_addr src, wire::ipv4_addr dst, const wire::tcp::view& t) {
  std::ostringstream os;
  os << "TCP " << src.to_string() << ':' << t.src_port() << " > " << dst.to_string() << ':' << t.dst_port() << " ["
     << tcp_flags_string(t.flags()) << "] seq " << t.seq_num();
  if (t.has(wire::tcp::flag::ack)) os << " ack " << t.ack_num();
  os << " win " << t.window() << " len " << t.payload().size();
  return os.str();
}

std::optional<udp_datagram> parse_udp(int linktype, const std::uint8_t* p, std::size_t n) {
  const auto ip = ipv4_in(linktype, as_bytes(p, n));
  // A fragment is not replayable alone; checksums are not looked at (the kernel path sends the payload).
  if (!ip || ip->proto() != wire::udp::ip_protocol || ip->is_fragment()) return std::nullopt;
  const auto u = wire::udp::view::check(ip->payload());
  if (!u) return std::nullopt;
  udp_datagram d;
  d.src_ip = ip->src().value;
  d.dst_ip = ip->dst().value;
  d.src_port = u->src_port();
  d.dst_port = u->dst_port();
  const auto pl = u->payload();
  d.payload.assign(reinterpret_cast<const std::uint8_t*>(pl.data()), reinterpret_cast<const std::uint8_t*>(pl.data()) + pl.size());
  return d;
}

std::string describe(int linktype, const std::uint8_t* p, std::size_t n) {
  if (auto d = parse_udp(linktype, p, n)) {
    std::ostringstream os;
    os << ipv4_to_string(d->src_ip) << ':' << d->src_port << " > " << ipv4_to_string(d->dst_ip) << ':'
       << d->dst_port << " udp " << d->payload.size() << " B";
    return os.str();
  }
  if (const auto ip = ipv4_in(linktype, as_bytes(p, n))) {
    if (ip->proto() == wire::tcp::ip_protocol && !ip->is_fragment())
      if (const auto t = wire::tcp::view::check(ip->payload())) return describe_tcp(ip->src(), ip->dst(), *t);
    std::ostringstream os;
    os << ip->src().to_string() << " > " << ip->dst().to_string() << " proto " << unsigned{ip->proto()} << ' ' << n << " B";
    return os.str();
  }
  // A frame the strict views refuse is still named by its flow (read as leniently as a NIC's RSS does),
  // with what is wrong with it, so a route of a malformed packet says which packet it was.
  if (linktype == DLT_EN10MB)
    if (const auto f = wire::ipv4_flow::find(as_bytes(p, n))) {
      std::ostringstream os;
      os << f->src.to_string();
      if (f->has_ports) os << ':' << f->src_port;
      os << " > " << f->dst.to_string();
      if (f->has_ports) os << ':' << f->dst_port;
      os << " proto " << unsigned{f->proto} << ' ' << n << " B, malformed: ";
      const auto e = wire::ethernet::view::check(as_bytes(p, n));
      const auto ip = e ? wire::ipv4::view::check(e->payload()) : wire::result<wire::ipv4::view>(wire::error::unsupported);
      if (!e || e->type() != wire::ethernet::ethertype::ipv4) os << "tagged twice";
      else if (!ip) os << wire::to_string(ip.error_code());
      else if (const auto u = wire::udp::view::check(ip->payload()); !u) os << "udp " << wire::to_string(u.error_code());
      else os << "not replayable";
      return os.str();
    }
  if (linktype == DLT_EN10MB)
    if (const auto e = wire::ethernet::view::check(as_bytes(p, n))) {
      std::ostringstream os;
      os << "ethertype 0x" << std::hex << static_cast<unsigned>(e->type()) << std::dec << ' ' << n << " B";
      if (e->type() == wire::ethernet::ethertype::ipv4)
        if (const auto ip = wire::ipv4::view::check(e->payload()); !ip)
          os << ", malformed IPv4: " << wire::to_string(ip.error_code());
      return os.str();
    }
  return std::to_string(n) + " B";
}

pcap_selection select_packets(const std::string& file, const std::string& filter_expr, std::size_t max) {
  // Through sim_nic's stream, the one `ringlab replay` and the lab path read with: the same errors
  // (file, packet number, byte offset), the same link types (cooked and raw IP arrive as Ethernet, so
  // the filter is compiled for Ethernet), the same packet numbers as the lab's packet ids, and memory
  // bounded by the stream's window plus the packets selected (--packets N).
  auto tr = sim::pcap_stream::open(file);
  if (!tr) throw input_error(tr.error);
  pcap_selection sel;
  sel.linktype = DLT_EN10MB;
  std::optional<packet_filter> filter;
  if (!filter_expr.empty()) filter.emplace(filter_expr, sel.linktype);
  const bool whole = tr->scan([&](const sim::trace_record& r, std::span<const std::byte> b) {
    ++sel.total;
    if (max && sel.packets.size() == max) return;   // keep counting: "N of TOTAL selected"
    const auto* data = reinterpret_cast<const std::uint8_t*>(b.data());
    if (filter && !filter->matches(data, r.caplen, r.wirelen)) return;
    selected_packet sp;
    sp.id = r.number;
    sp.ts_ns = r.ts_ns;
    sp.wire_len = r.wirelen;
    sp.bytes.assign(data, data + r.caplen);
    sp.summary = describe(sel.linktype, data, r.caplen);
    sp.udp = parse_udp(sel.linktype, data, r.caplen);
    sel.packets.push_back(std::move(sp));
  });
  if (!whole) throw input_error(tr->scan_error());
  return sel;
}

struct stream_selector::impl {
  sim::pcap_stream stream;
  std::optional<packet_filter> filter;
};

stream_selector::stream_selector(const std::string& file, const std::string& filter_expr) {
  auto tr = sim::pcap_stream::open(file);
  if (!tr) throw input_error(tr.error);
  p_ = new impl{std::move(*tr), std::nullopt};
  try {
    if (!filter_expr.empty()) p_->filter.emplace(filter_expr, DLT_EN10MB);
  } catch (...) {
    delete p_;
    throw;
  }
}

stream_selector::~stream_selector() { delete p_; }

bool stream_selector::select_bytes(std::span<const std::byte> b, std::string* summary) const {
  const auto* data = reinterpret_cast<const std::uint8_t*>(b.data());
  const auto n = static_cast<std::uint32_t>(b.size());
  if (p_->filter && !p_->filter->matches(data, n, n)) return false;
  if (summary) *summary = describe(DLT_EN10MB, data, n);
  return true;
}

bool stream_selector::select(std::uint64_t id, std::string* summary) {
  auto& s = p_->stream;
  // Packet id k is the stream's record k - 1 (sequence() counts the records popped).
  if (id == 0) return false;
  if (s.sequence() >= id && !s.restart()) throw input_error(s.error());
  while (s.sequence() + 1 < id && s.peek()) s.pop();
  const sim::stream_frame* f = s.peek();
  if (!f || s.sequence() + 1 != id) {
    // The replay read this packet from the same file: a stream that ends before it was damaged since.
    throw input_error(s.error().empty() ? s.name() + ": packet " + std::to_string(id) + " is past the file's end" : s.error());
  }
  const auto* data = reinterpret_cast<const std::uint8_t*>(f->bytes.data());
  const bool take = !p_->filter || p_->filter->matches(data, f->rec.caplen, f->rec.wirelen);
  if (take) {
    ++selected_;
    if (summary) *summary = describe(DLT_EN10MB, data, f->rec.caplen);
  }
  s.pop();
  return take;
}

void write_pcap(const std::string& file, const std::vector<std::vector<std::uint8_t>>& frames) {
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, 65535), &pcap_close);
  pcap_dumper_t* d = pcap_dump_open(dead.get(), file.c_str());
  if (!d) throw std::runtime_error(file + ": " + pcap_geterr(dead.get()));
  std::uint32_t usec = 0;
  for (const auto& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1;
    h.ts.tv_usec = usec;
    usec += 1000;
    h.caplen = h.len = static_cast<std::uint32_t>(f.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
  }
  pcap_dump_close(d);
}

std::vector<std::uint8_t> make_udp_frame(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t sport,
                                         std::uint16_t dport, const std::vector<std::uint8_t>& payload,
                                         bool udp_checksum_ok) {
  const wire::ipv4_addr src{src_ip}, dst{dst_ip};
  const wire::ethernet::repr eth{{0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2}, wire::ethernet::ethertype::ipv4, std::nullopt, 0};
  const wire::udp::repr u{sport, dport, std::as_bytes(std::span(payload))};
  wire::ipv4::repr ip{src, dst, wire::udp::ip_protocol, static_cast<std::uint16_t>(u.buffer_len())};
  ip.dont_frag = false;
  ip.ident = 0;
  std::vector<std::byte> f(eth.buffer_len() + ip.buffer_len() + u.buffer_len());
  std::size_t at = eth.emit(f);
  at += ip.emit(std::span(f).subspan(at));
  u.emit(std::span(f).subspan(at), src, dst);
  if (!udp_checksum_ok) {
    std::byte* c = f.data() + at + wire::udp::field::checksum;
    wire::store_be16(c, wire::load_be16(c) ^ 0x5a5a);
  }
  const auto* b = reinterpret_cast<const std::uint8_t*>(f.data());
  return {b, b + f.size()};
}

}  // namespace ringlab::trace_flow
