#include "sim_nic/pcap_reader.hpp"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::sim {

namespace {
constexpr int dlt_linux_sll2 = 276;   // DLT_LINUX_SLL2 (not in every libpcap header)
constexpr int dlt_ipv4 = 228, dlt_ipv6 = 229;

bool is_raw(int dlt) { return dlt == DLT_RAW || dlt == dlt_ipv4 || dlt == dlt_ipv6; }

// The size of a record header in a pcap file with this magic (first 4 bytes, as stored); 0 for pcapng
// and anything else, where records are located by asking the FILE.
std::uint32_t record_header_size(const unsigned char* m) {
  const std::uint32_t le = std::uint32_t{m[0]} | std::uint32_t{m[1]} << 8 | std::uint32_t{m[2]} << 16 | std::uint32_t{m[3]} << 24;
  const std::uint32_t be = std::uint32_t{m[3]} | std::uint32_t{m[2]} << 8 | std::uint32_t{m[1]} << 16 | std::uint32_t{m[0]} << 24;
  for (const std::uint32_t v : {le, be}) {
    if (v == 0xa1b2c3d4 || v == 0xa1b23c4d) return 16;   // microsecond, nanosecond
    if (v == 0xa1b2cd34) return 24;                      // Kuznetzov's modified pcap
  }
  return 0;
}

// The synthesised Ethernet header: source 02:00:00:00:00:01 (or the SLL address when it is 6 bytes),
// destination 02:00:00:00:00:02, or the multicast MAC an IPv4 multicast destination maps to
// (01:00:5e + low 23 bits), so a stack's multicast filter sees what a real wire would carry.
void write_eth(std::byte* out, const std::uint8_t* src_mac, std::uint16_t type, const std::uint8_t* l3,
               std::size_t l3_len) {
  namespace eth = wire::ethernet;
  eth::repr e{src_mac ? wire::mac_addr::load(reinterpret_cast<const std::byte*>(src_mac)) : wire::mac_addr{0x02, 0, 0, 0, 0, 0x01},
              wire::mac_addr{0x02, 0, 0, 0, 0, 0x02}, static_cast<eth::ethertype>(type), std::nullopt, 0};
  if (e.type == eth::ethertype::ipv4 && l3_len >= wire::ipv4::min_header_len) {
    const auto dst = wire::ipv4::view::unchecked({reinterpret_cast<const std::byte*>(l3), l3_len}).dst();
    if (dst.is_multicast()) e.dst = wire::multicast_mac(dst);
  }
  e.emit({out, eth::header_len});
}
}  // namespace

result<pcap_reader> pcap_reader::adopt(pcap* p, std::string name, std::unique_ptr<char[]> buffer,
                                       const unsigned char* magic) {
  result<pcap_reader> r;
  const int dlt = pcap_datalink(p);
  if (dlt != DLT_EN10MB && dlt != DLT_LINUX_SLL && dlt != dlt_linux_sll2 && !is_raw(dlt)) {
    const char* dn = pcap_datalink_val_to_name(dlt);
    std::ostringstream os;
    os << name << ": link type " << dlt << " (" << (dn ? dn : "unknown")
       << ") is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IP are)";
    r.error = os.str();
    pcap_close(p);
    return r;
  }
  pcap_reader rd;
  rd.p_ = p;
  rd.buffer_ = std::move(buffer);
  rd.name_ = std::move(name);
  rd.dlt_ = dlt;
  rd.record_header_ = record_header_size(magic);
  rd.snaplen_ = static_cast<std::uint32_t>(pcap_snapshot(p));
  if (FILE* f = pcap_file(p); f && rd.record_header_) rd.next_offset_ = std::ftell(f);   // the first record
  r.value = std::move(rd);
  return r;
}

result<pcap_reader> pcap_reader::from_file(FILE* f, const std::string& name, std::unique_ptr<char[]> buffer,
                                           const unsigned char* magic) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!p) {
    std::fclose(f);
    result<pcap_reader> r;
    r.error = name + ": not a pcap or pcapng file (" + errbuf + ")";
    return r;
  }
  return adopt(p, name, std::move(buffer), magic);
}

result<pcap_reader> pcap_reader::open(const std::string& path, std::size_t read_ahead) {
  result<pcap_reader> r;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    r.error = path + ": cannot open: " + std::strerror(errno);
    return r;
  }
  std::unique_ptr<char[]> buf;
  if (read_ahead) {
    buf = std::make_unique<char[]>(read_ahead);
    std::setvbuf(f, buf.get(), _IOFBF, read_ahead);
  }
  unsigned char magic[4] = {};
  if (std::fread(magic, 1, 4, f) != 4) std::memset(magic, 0, 4);   // libpcap reports the short file
  std::rewind(f);
  return from_file(f, path, std::move(buf), magic);
}

result<pcap_reader> pcap_reader::from_memory(std::span<const std::byte> image, const std::string& name) {
  result<pcap_reader> r;
  if (image.empty()) {
    r.error = name + ": empty file (not a pcap or pcapng file)";
    return r;
  }
  FILE* f = fmemopen(const_cast<std::byte*>(image.data()), image.size(), "rb");
  if (!f) {
    r.error = name + ": fmemopen: " + std::strerror(errno);
    return r;
  }
  unsigned char magic[4] = {};
  if (image.size() >= 4) std::memcpy(magic, image.data(), 4);
  return from_file(f, name, nullptr, magic);
}

pcap_reader::pcap_reader(pcap_reader&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), buffer_(std::move(o.buffer_)), name_(std::move(o.name_)),
      error_(std::move(o.error_)), dlt_(o.dlt_), record_header_(o.record_header_), snaplen_(o.snaplen_),
      next_offset_(o.next_offset_), n_(o.n_), converted_(std::move(o.converted_)) {}

pcap_reader& pcap_reader::operator=(pcap_reader&& o) noexcept {
  if (this != &o) {
    close();
    p_ = std::exchange(o.p_, nullptr);
    buffer_ = std::move(o.buffer_);
    name_ = std::move(o.name_);
    error_ = std::move(o.error_);
    dlt_ = o.dlt_;
    record_header_ = o.record_header_;
    snaplen_ = o.snaplen_;
    next_offset_ = o.next_offset_;
    n_ = o.n_;
    converted_ = std::move(o.converted_);
  }
  return *this;
}

pcap_reader::~pcap_reader() { close(); }

void pcap_reader::close() noexcept {
  if (p_) pcap_close(p_);   // closes the FILE too; buffer_ goes after it
  p_ = nullptr;
}

pcap_reader::status pcap_reader::next(trace_record& rec, std::span<const std::byte>& bytes) {
  if (!p_ || !error_.empty()) return status::error;
  // The record's offset: in a pcap file the previous one's plus its header and caplen; ftell (an
  // lseek per call in glibc, ~1 us in this VM) only for pcapng and after a record libpcap may have
  // cut to the snaplen (then caplen no longer says how many bytes it took from the file).
  FILE* f = pcap_file(p_);
  const long off = next_offset_ >= 0 ? next_offset_ : f ? std::ftell(f) : -1;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  const std::uint64_t n = n_ + 1;
  const int rc = pcap_next_ex(p_, &h, &data);
  if (rc == PCAP_ERROR_BREAK) return status::end;
  auto fail = [&](const std::string& what) {
    std::ostringstream os;
    os << name_ << ": packet " << n << " at byte offset " << off << ": " << what;
    error_ = os.str();
    return status::error;
  };
  if (rc != 1) return fail(pcap_geterr(p_));
  next_offset_ = record_header_ && off >= 0 && h->caplen < snaplen_ ? off + record_header_ + h->caplen : -1;
  n_ = n;
  rec.number = n;
  rec.file_offset = off < 0 ? 0 : static_cast<std::uint64_t>(off);
  // The timestamp is nanoseconds because the handle was opened with nanosecond precision.
  // The file's two 32-bit fields as libpcap hands them over: a fraction of 2^32-1 came back as -1 and
  // made the record's time 2^64-1, sim_nic's "never" (fuzz_sim_nic_pcap's clock-to-never crasher).
  const auto sec = static_cast<std::uint64_t>(static_cast<std::uint32_t>(h->ts.tv_sec));
  const auto frac = static_cast<std::uint64_t>(static_cast<std::uint32_t>(h->ts.tv_usec));
  if (frac >= 1'000'000'000ull)
    return fail("timestamp fraction " + std::to_string(frac) + " ns is not below one second");
  rec.ts_ns = sec * 1'000'000'000ull + frac;
  if (dlt_ == DLT_EN10MB) {
    bytes = {reinterpret_cast<const std::byte*>(data), h->caplen};
    rec.caplen = h->caplen;
    rec.wirelen = h->len;
    return status::frame;
  }
  std::size_t hdr = 0;
  std::uint16_t type = 0;
  const std::uint8_t* src_mac = nullptr;
  if (dlt_ == DLT_LINUX_SLL || dlt_ == dlt_linux_sll2) {
    const bool sll = dlt_ == DLT_LINUX_SLL;
    hdr = sll ? 16 : 20;
    if (h->caplen < hdr)
      return fail(std::to_string(h->caplen) + " bytes is shorter than the " + std::to_string(hdr) +
                  "-byte Linux cooked header");
    type = sll ? static_cast<std::uint16_t>(data[14] << 8 | data[15]) : static_cast<std::uint16_t>(data[0] << 8 | data[1]);
    const std::uint8_t halen = sll ? static_cast<std::uint8_t>(data[5]) : data[11];
    if (halen == 6) src_mac = sll ? data + 6 : data + 12;
  } else {
    const std::uint8_t v = h->caplen ? data[0] >> 4 : 0;
    type = static_cast<std::uint16_t>(v == 6 || dlt_ == dlt_ipv6 ? wire::ethernet::ethertype::ipv6 : wire::ethernet::ethertype::ipv4);
  }
  const std::size_t l3_len = h->caplen - hdr;
  constexpr std::size_t l2 = wire::ethernet::header_len;
  converted_.resize(l2 + l3_len);
  write_eth(converted_.data(), src_mac, type, data + hdr, l3_len);
  std::memcpy(converted_.data() + l2, data + hdr, l3_len);
  rec.caplen = static_cast<std::uint32_t>(l2 + l3_len);
  rec.wirelen = static_cast<std::uint32_t>(h->len >= hdr ? h->len - hdr + l2 : rec.caplen);
  bytes = converted_;
  return status::frame;
}

}  // namespace ringlab::sim
