#include "sim_nic/pcap_trace.hpp"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::sim {

namespace {
constexpr int dlt_linux_sll2 = 276;   // DLT_LINUX_SLL2 (not in every libpcap header)
constexpr int dlt_ipv4 = 228, dlt_ipv6 = 229;

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

struct pcap_trace_loader {
  static result<pcap_trace> load(pcap_t* p, const std::string& name) {
    result<pcap_trace> r;
    pcap_trace t;
    t.name_ = name;
    const int dlt = pcap_datalink(p);
    t.link_type_ = dlt;
    const bool eth = dlt == DLT_EN10MB, sll = dlt == DLT_LINUX_SLL, sll2 = dlt == dlt_linux_sll2;
    const bool raw = dlt == DLT_RAW || dlt == dlt_ipv4 || dlt == dlt_ipv6;
    if (!eth && !sll && !sll2 && !raw) {
      const char* dn = pcap_datalink_val_to_name(dlt);
      std::ostringstream os;
      os << name << ": link type " << dlt << " (" << (dn ? dn : "unknown")
         << ") is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IP are)";
      r.error = os.str();
      return r;
    }
    FILE* f = pcap_file(p);
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    for (std::uint64_t n = 1;; ++n) {
      const long off = f ? std::ftell(f) : -1;
      const int rc = pcap_next_ex(p, &h, &data);
      if (rc == PCAP_ERROR_BREAK) break;   // end of file
      if (rc != 1) {
        std::ostringstream os;
        os << name << ": packet " << n << " at byte offset " << off << ": " << pcap_geterr(p);
        r.error = os.str();
        return r;
      }
      trace_record rec;
      rec.number = n;
      rec.file_offset = off < 0 ? 0 : static_cast<std::uint64_t>(off);
      // The timestamp is nanoseconds because the handle was opened with nanosecond precision.
      rec.ts_ns = static_cast<std::uint64_t>(h->ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(h->ts.tv_usec);
      rec.data = t.blob_.size();
      std::size_t hdr = 0;
      std::uint16_t type = 0;
      const std::uint8_t* src_mac = nullptr;
      if (sll || sll2) {
        hdr = sll ? 16 : 20;
        if (h->caplen < hdr) {
          std::ostringstream os;
          os << name << ": packet " << n << " at byte offset " << off << ": " << h->caplen
             << " bytes is shorter than the " << hdr << "-byte Linux cooked header";
          r.error = os.str();
          return r;
        }
        type = sll ? static_cast<std::uint16_t>(data[14] << 8 | data[15]) : static_cast<std::uint16_t>(data[0] << 8 | data[1]);
        const std::uint8_t halen = sll ? static_cast<std::uint8_t>(data[5]) : data[11];
        if (halen == 6) src_mac = sll ? data + 6 : data + 12;
      } else if (raw) {
        const std::uint8_t v = h->caplen ? data[0] >> 4 : 0;
        type = static_cast<std::uint16_t>(v == 6 || dlt == dlt_ipv6 ? wire::ethernet::ethertype::ipv6 : wire::ethernet::ethertype::ipv4);
      }
      if (eth) {
        t.blob_.insert(t.blob_.end(), reinterpret_cast<const std::byte*>(data),
                       reinterpret_cast<const std::byte*>(data) + h->caplen);
        rec.caplen = h->caplen;
        rec.wirelen = h->len;
      } else {
        const std::size_t l3_len = h->caplen - hdr;
        const std::size_t at = t.blob_.size();
        constexpr std::size_t l2 = wire::ethernet::header_len;
        t.blob_.resize(at + l2 + l3_len);
        write_eth(t.blob_.data() + at, src_mac, type, data + hdr, l3_len);
        std::memcpy(t.blob_.data() + at + l2, data + hdr, l3_len);
        rec.caplen = static_cast<std::uint32_t>(l2 + l3_len);
        rec.wirelen = static_cast<std::uint32_t>(h->len >= hdr ? h->len - hdr + l2 : rec.caplen);
      }
      t.records_.push_back(rec);
    }
    r.value = std::move(t);
    return r;
  }
};

result<pcap_trace> pcap_trace::open(const std::string& path) {
  result<pcap_trace> r;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    r.error = path + ": cannot open: " + std::strerror(errno);
    return r;
  }
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!p) {
    std::fclose(f);
    r.error = path + ": not a pcap or pcapng file (" + errbuf + ")";
    return r;
  }
  r = pcap_trace_loader::load(p, path);
  pcap_close(p);
  return r;
}

result<pcap_trace> pcap_trace::from_memory(std::span<const std::byte> image, const std::string& name) {
  result<pcap_trace> r;
  if (image.empty()) {
    r.error = name + ": empty file (not a pcap or pcapng file)";
    return r;
  }
  FILE* f = fmemopen(const_cast<std::byte*>(image.data()), image.size(), "rb");
  if (!f) {
    r.error = name + ": fmemopen: " + std::strerror(errno);
    return r;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!p) {
    std::fclose(f);
    r.error = name + ": not a pcap or pcapng file (" + errbuf + ")";
    return r;
  }
  r = pcap_trace_loader::load(p, name);
  pcap_close(p);
  return r;
}

pcap_trace pcap_trace::from_frames(const std::vector<std::vector<std::byte>>& frames,
                                   const std::vector<std::uint64_t>& ts_ns) {
  pcap_trace t;
  t.name_ = "<frames>";
  for (std::size_t i = 0; i < frames.size(); ++i) {
    trace_record rec;
    rec.number = i + 1;
    rec.ts_ns = i < ts_ns.size() ? ts_ns[i] : i * 1000;
    rec.data = t.blob_.size();
    rec.caplen = rec.wirelen = static_cast<std::uint32_t>(frames[i].size());
    t.blob_.insert(t.blob_.end(), frames[i].begin(), frames[i].end());
    t.records_.push_back(rec);
  }
  return t;
}

}  // namespace ringlab::sim
