#include "sim_nic/pcap_trace.hpp"

namespace ringlab::sim {

result<pcap_trace> pcap_trace::load(result<pcap_reader> rd) {
  result<pcap_trace> r;
  if (!rd) {
    r.error = std::move(rd.error);
    return r;
  }
  pcap_trace t;
  t.name_ = rd->name();
  t.link_type_ = rd->link_type();
  trace_record rec;
  std::span<const std::byte> bytes;
  for (;;) {
    const auto st = rd->next(rec, bytes);
    if (st == pcap_reader::status::end) break;
    if (st == pcap_reader::status::error) {
      r.error = rd->error();
      return r;
    }
    rec.data = t.blob_.size();
    t.blob_.insert(t.blob_.end(), bytes.begin(), bytes.end());
    if (t.records_.empty() || rec.ts_ns > t.latest_ts_) t.latest_ts_ = rec.ts_ns;
    t.records_.push_back(rec);
  }
  r.value = std::move(t);
  return r;
}

result<pcap_trace> pcap_trace::open(const std::string& path) { return load(pcap_reader::open(path)); }

result<pcap_trace> pcap_trace::from_memory(std::span<const std::byte> image, const std::string& name) {
  return load(pcap_reader::from_memory(image, name));
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
    if (t.records_.empty() || rec.ts_ns > t.latest_ts_) t.latest_ts_ = rec.ts_ns;
    t.records_.push_back(rec);
  }
  return t;
}

}  // namespace ringlab::sim
