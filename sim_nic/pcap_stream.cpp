#include "sim_nic/pcap_stream.hpp"

#include <utility>

namespace ringlab::sim {

result<pcap_stream> pcap_stream::open(const std::string& path, std::size_t read_ahead) {
  result<pcap_stream> r;
  auto rd = pcap_reader::open(path, read_ahead);
  if (!rd) {
    r.error = std::move(rd.error);
    return r;
  }
  r.value.emplace(pcap_stream(std::move(*rd), read_ahead));
  return r;
}

void pcap_stream::fill() noexcept {
  // end and error alike leave have_ false; error() tells them apart.
  have_ = reader_.next(cur_.rec, cur_.bytes) == pcap_reader::status::frame;
}

bool pcap_stream::rewind() {
  auto rd = pcap_reader::open(reader_.name(), read_ahead_);
  have_ = false;
  if (!rd) {
    open_error_ = std::move(rd.error);   // the file went away or changed between loops
    return false;
  }
  reader_ = std::move(*rd);
  return true;
}

bool pcap_stream::restart() {
  seq_ = 0;
  open_error_.clear();
  recent_.fill({});
  return rewind();
}

}  // namespace ringlab::sim
