#include "tools/trace_packet_flow/packet_filter.hpp"

#include <pcap/pcap.h>

#include <cstring>
#include <memory>
#include <sstream>

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
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// Returns the IPv4 header offset, or npos.
std::size_t ipv4_offset(int linktype, const std::uint8_t* p, std::size_t n) {
  constexpr std::size_t npos = ~std::size_t{0};
  if (linktype == DLT_RAW || linktype == 12 /* LINKTYPE_RAW on some systems */ || linktype == 228 /* IPV4 */)
    return n >= 1 && (p[0] >> 4) == 4 ? 0 : npos;
  if (linktype != DLT_EN10MB || n < 14) return npos;
  std::size_t off = 12;
  std::uint16_t type = be16(p + off);
  if (type == 0x8100 && n >= 18) { off += 4; type = be16(p + off); }
  return type == 0x0800 ? off + 2 : npos;
}
}  // namespace

std::string ipv4_to_string(std::uint32_t a) {
  std::ostringstream os;
  os << (a >> 24) << '.' << (a >> 16 & 255) << '.' << (a >> 8 & 255) << '.' << (a & 255);
  return os.str();
}

std::optional<udp_datagram> parse_udp(int linktype, const std::uint8_t* p, std::size_t n) {
  const std::size_t ip = ipv4_offset(linktype, p, n);
  if (ip == ~std::size_t{0} || n < ip + 20) return std::nullopt;
  const std::size_t ihl = (p[ip] & 15u) * 4u;
  if (ihl < 20 || n < ip + ihl + 8 || p[ip + 9] != 17) return std::nullopt;
  if ((be16(p + ip + 6) & 0x3fff) != 0) return std::nullopt;   // a fragment: not replayable alone
  const std::size_t udp = ip + ihl;
  const std::size_t ulen = be16(p + udp + 4);
  if (ulen < 8 || n < udp + ulen) return std::nullopt;
  udp_datagram d;
  d.src_ip = be32(p + ip + 12);
  d.dst_ip = be32(p + ip + 16);
  d.src_port = be16(p + udp);
  d.dst_port = be16(p + udp + 2);
  d.payload.assign(p + udp + 8, p + udp + ulen);
  return d;
}

std::string describe(int linktype, const std::uint8_t* p, std::size_t n) {
  if (auto d = parse_udp(linktype, p, n)) {
    std::ostringstream os;
    os << ipv4_to_string(d->src_ip) << ':' << d->src_port << " > " << ipv4_to_string(d->dst_ip) << ':'
       << d->dst_port << " udp " << d->payload.size() << " B";
    return os.str();
  }
  const std::size_t ip = ipv4_offset(linktype, p, n);
  if (ip != ~std::size_t{0} && n >= ip + 20) {
    std::ostringstream os;
    os << ipv4_to_string(be32(p + ip + 12)) << " > " << ipv4_to_string(be32(p + ip + 16)) << " proto "
       << unsigned{p[ip + 9]} << ' ' << n << " B";
    return os.str();
  }
  if (linktype == DLT_EN10MB && n >= 14) {
    std::ostringstream os;
    os << "ethertype 0x" << std::hex << be16(p + 12) << std::dec << ' ' << n << " B";
    return os.str();
  }
  return std::to_string(n) + " B";
}

pcap_selection select_packets(const std::string& file, const std::string& filter_expr, std::size_t max) {
  char err[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, decltype(&pcap_close)> pc(
      pcap_open_offline_with_tstamp_precision(file.c_str(), PCAP_TSTAMP_PRECISION_NANO, err), &pcap_close);
  if (!pc) {   // libpcap's message usually names the file already
    const std::string e = err;
    throw input_error(e.rfind(file, 0) == 0 ? e : file + ": " + e);
  }
  pcap_selection sel;
  sel.linktype = pcap_datalink(pc.get());
  std::optional<packet_filter> filter;
  if (!filter_expr.empty()) filter.emplace(filter_expr, sel.linktype, pcap_snapshot(pc.get()));
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pc.get(), &h, &data)) == 1) {
    ++sel.total;
    if (max && sel.packets.size() == max) continue;   // keep counting: "N of TOTAL selected"
    if (filter && !filter->matches(data, h->caplen, h->len)) continue;
    selected_packet sp;
    sp.id = sel.total;
    sp.ts_ns = static_cast<std::uint64_t>(h->ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(h->ts.tv_usec);
    sp.wire_len = h->len;
    sp.bytes.assign(data, data + h->caplen);
    sp.summary = describe(sel.linktype, data, h->caplen);
    sp.udp = parse_udp(sel.linktype, data, h->caplen);
    sel.packets.push_back(std::move(sp));
  }
  if (rc == PCAP_ERROR) {
    std::ostringstream os;
    os << file << ": packet " << sel.total + 1 << ": " << pcap_geterr(pc.get());
    throw input_error(os.str());
  }
  return sel;
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

namespace {
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += be16(p + i);
  if (n & 1) acc += std::uint32_t{p[n - 1]} << 8;
  return acc;
}
std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc & 0xffff);
}
void put16(std::uint8_t* p, std::uint16_t v) { p[0] = static_cast<std::uint8_t>(v >> 8); p[1] = static_cast<std::uint8_t>(v); }
void put32(std::uint8_t* p, std::uint32_t v) { put16(p, static_cast<std::uint16_t>(v >> 16)); put16(p + 2, static_cast<std::uint16_t>(v)); }
}  // namespace

std::vector<std::uint8_t> make_udp_frame(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t sport,
                                         std::uint16_t dport, const std::vector<std::uint8_t>& payload,
                                         bool udp_checksum_ok) {
  const std::size_t ulen = 8 + payload.size();
  std::vector<std::uint8_t> f(14 + 20 + ulen, 0);
  const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 2}, smac[6] = {0x02, 0, 0, 0, 0, 1};
  std::memcpy(f.data(), dmac, 6);
  std::memcpy(f.data() + 6, smac, 6);
  put16(f.data() + 12, 0x0800);
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<std::uint16_t>(20 + ulen));
  ip[8] = 64;
  ip[9] = 17;
  put32(ip + 12, src_ip);
  put32(ip + 16, dst_ip);
  put16(ip + 10, fold(sum16(ip, 20)));
  std::uint8_t* u = ip + 20;
  put16(u, sport);
  put16(u + 2, dport);
  put16(u + 4, static_cast<std::uint16_t>(ulen));
  std::memcpy(u + 8, payload.data(), payload.size());
  std::uint32_t acc = sum16(ip + 12, 8);
  acc += 17 + static_cast<std::uint32_t>(ulen);
  std::uint16_t c = fold(sum16(u, ulen, acc));
  if (c == 0) c = 0xffff;
  if (!udp_checksum_ok) c = static_cast<std::uint16_t>(c ^ 0x5a5a);
  put16(u + 6, c);
  return f;
}

}  // namespace ringlab::trace_flow
