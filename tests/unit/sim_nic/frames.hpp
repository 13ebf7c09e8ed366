#pragma once
// Test helpers for sim_nic: build Ethernet/IPv4/UDP|TCP frames byte by byte, write pcaps with
// libpcap's own dumper, and read pcaps back.
#include <pcap/pcap.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

namespace ringlab::simtest {

using bytes = std::vector<std::byte>;

inline void put16(bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = std::byte(v >> 8);
  b[at + 1] = std::byte(v & 0xff);
}

// Ethernet + IPv4 + UDP (proto 17) or TCP (proto 6) with `payload` bytes of pattern; ip as 4 bytes.
inline bytes ipv4_frame(std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst, std::uint16_t sport,
                        std::uint16_t dport, std::size_t payload = 18, std::uint8_t proto = 17,
                        std::uint16_t frag = 0) {
  const std::size_t l4 = proto == 6 ? 20 : 8;
  bytes b(14 + 20 + l4 + payload);
  const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
  for (int i = 0; i < 6; ++i) { b[i] = std::byte(dmac[i]); b[6 + i] = std::byte(smac[i]); }
  put16(b, 12, 0x0800);
  b[14] = std::byte(0x45);
  put16(b, 16, static_cast<std::uint16_t>(20 + l4 + payload));
  put16(b, 20, frag);
  b[22] = std::byte(64);
  b[23] = std::byte(proto);
  for (int i = 0; i < 4; ++i) { b[26 + i] = std::byte(src[i]); b[30 + i] = std::byte(dst[i]); }
  put16(b, 34, sport);
  put16(b, 36, dport);
  for (std::size_t i = 0; i < payload; ++i) b[14 + 20 + l4 + i] = std::byte((i * 7 + sport) & 0xff);
  return b;
}

// A UDP frame whose 4-tuple varies with i (many flows).
inline bytes flow_frame(std::uint32_t i, std::size_t payload = 18) {
  return ipv4_frame({10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}, {10, 1, 0, 1},
                    static_cast<std::uint16_t>(1000 + i), 9000, payload);
}

// FNV-1a over delivered frames and their metadata: what two runs that must agree compare.
struct fnv {
  std::uint64_t h = 1469598103934665603ull;
  void mix(const void* p, std::size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  }
  void mix64(std::uint64_t v) { mix(&v, sizeof v); }
};

struct temp_file {
  std::string path;
  explicit temp_file(const std::string& tag) {
    path = "/tmp/ringlab-sim-" + tag + "-" + std::to_string(::getpid()) + ".pcap";
  }
  ~temp_file() { std::remove(path.c_str()); }
};

struct pcap_frame {
  bytes data;
  std::uint64_t ts_ns = 0;
  std::uint32_t wirelen = 0;   // 0: data.size()
};

// Writes frames with libpcap's dumper (nanosecond precision), link type dlt.
inline void write_pcap(const std::string& path, const std::vector<pcap_frame>& frames, int dlt = DLT_EN10MB,
                       int snaplen = 65535) {
  pcap_t* d = pcap_open_dead_with_tstamp_precision(dlt, snaplen, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t* w = pcap_dump_open(d, path.c_str());
  for (const auto& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(f.ts_ns / 1'000'000'000ull);
    h.ts.tv_usec = static_cast<suseconds_t>(f.ts_ns % 1'000'000'000ull);
    h.caplen = static_cast<bpf_u_int32>(f.data.size());
    h.len = f.wirelen ? f.wirelen : h.caplen;
    pcap_dump(reinterpret_cast<u_char*>(w), &h, reinterpret_cast<const u_char*>(f.data.data()));
  }
  pcap_dump_close(w);
  pcap_close(d);
}

inline std::vector<pcap_frame> read_pcap(const std::string& path) {
  std::vector<pcap_frame> out;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) return out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    pcap_frame f;
    f.data.assign(reinterpret_cast<const std::byte*>(d), reinterpret_cast<const std::byte*>(d) + h->caplen);
    f.ts_ns = static_cast<std::uint64_t>(h->ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(h->ts.tv_usec);
    f.wirelen = h->len;
    out.push_back(std::move(f));
  }
  pcap_close(p);
  return out;
}

inline std::vector<std::byte> read_file(const std::string& path) {
  std::vector<std::byte> b;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::byte buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
    std::fclose(f);
  }
  return b;
}

inline void write_file(const std::string& path, const std::vector<std::byte>& b) {
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  }
}

}  // namespace ringlab::simtest
