#include "port/pcap_tap.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace ringlab::port {

bool pcap_writer::open(const std::string& path, std::string* error, std::uint32_t snaplen) {
  close();
  std::lock_guard lk(mu_);
  error_.clear();
  dead_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, static_cast<int>(snaplen), PCAP_TSTAMP_PRECISION_NANO);
  if (!dead_) {
    if (error) *error = path + ": pcap_open_dead failed";
    return false;
  }
  dumper_ = pcap_dump_open(dead_, path.c_str());
  if (!dumper_) {
    // libpcap's message names the file too ("PATH: No such file or directory"): once is enough.
    std::string why = pcap_geterr(dead_);
    if (why.starts_with(path + ": ")) why.erase(0, path.size() + 2);
    if (error) *error = path + ": cannot write pcap: " + why;
    pcap_close(dead_);
    dead_ = nullptr;
    return false;
  }
  return true;
}

void pcap_writer::write(std::uint64_t t_ns, std::span<const std::byte> bytes, std::uint32_t wire_len) noexcept {
  pcap_pkthdr h{};
  // With nanosecond precision the dumper stores tv_usec as nanoseconds.
  h.ts.tv_sec = static_cast<time_t>(t_ns / 1'000'000'000ull);
  h.ts.tv_usec = static_cast<suseconds_t>(t_ns % 1'000'000'000ull);
  h.caplen = static_cast<bpf_u_int32>(bytes.size());
  h.len = wire_len ? wire_len : h.caplen;
  std::lock_guard lk(mu_);
  if (!dumper_) return;
  errno = 0;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(bytes.data()));
  ++written_;
  // A failed write (the stdio buffer flushing into a full disk) sets the stream's error flag; keep
  // the first reason while errno still says it.
  if (error_.empty() && std::ferror(pcap_dump_file(dumper_))) error_ = errno ? std::strerror(errno) : "write error";
}

bool pcap_writer::flush() noexcept {
  std::lock_guard lk(mu_);
  if (dumper_ && error_.empty()) {
    errno = 0;
    if (pcap_dump_flush(dumper_) != 0 || std::ferror(pcap_dump_file(dumper_)))
      error_ = errno ? std::strerror(errno) : "write error";
  }
  return error_.empty();
}

std::string pcap_writer::error() const {
  std::lock_guard lk(mu_);
  return error_;
}

void pcap_writer::close() noexcept {
  flush();   // the last buffered frames: a failure is kept in error()
  std::lock_guard lk(mu_);
  if (dumper_) pcap_dump_close(dumper_);
  if (dead_) pcap_close(dead_);
  dumper_ = nullptr;
  dead_ = nullptr;
}

}  // namespace ringlab::port
