// pcap_stream: the same records and bytes as a loaded pcap_trace (pcap, pcapng, converted link types),
// bad files named by packet number and byte offset, and sim_nic replaying a stream exactly as it
// replays the loaded file: the same frames, counters, drop log and trace events, with loops, faults,
// a full ring and every pacing.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"
#include "trace/trace.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {

// Every record of the stream, checked field by field and byte by byte against the loaded trace.
void expect_same_records(const std::string& path) {
  auto t = sim::pcap_trace::open(path);
  ASSERT_TRUE(t) << t.error;
  auto s = sim::pcap_stream::open(path);
  ASSERT_TRUE(s) << s.error;
  EXPECT_EQ(s->original_link_type(), t->original_link_type());
  for (const auto& r : t->records()) {
    const sim::stream_frame* f = s->peek();
    ASSERT_NE(f, nullptr) << "packet " << r.number;
    EXPECT_EQ(f->rec.number, r.number);
    EXPECT_EQ(f->rec.file_offset, r.file_offset);
    EXPECT_EQ(f->rec.ts_ns, r.ts_ns);
    EXPECT_EQ(f->rec.caplen, r.caplen);
    EXPECT_EQ(f->rec.wirelen, r.wirelen);
    ASSERT_EQ(f->bytes.size(), r.caplen);
    EXPECT_EQ(std::memcmp(f->bytes.data(), t->bytes(r).data(), r.caplen), 0) << "packet " << r.number;
    s->pop();
  }
  EXPECT_EQ(s->peek(), nullptr);
  EXPECT_EQ(s->error(), "");
  EXPECT_EQ(s->sequence(), t->records().size());
}

// 300 frames of varied sizes and flows, uneven gaps, a runt (packet 100) and a frame the capture cut
// (packet 200: 64 of 300 bytes).
std::vector<pcap_frame> mixed_frames() {
  std::vector<pcap_frame> v;
  std::uint64_t t = 7'000'000'000ull;
  for (std::uint32_t i = 0; i < 300; ++i) {
    t += 300 + (i * 7919) % 5000;
    if (i == 99) v.push_back({bytes(9, std::byte{0xab}), t});
    else if (i == 199) v.push_back({flow_frame(i, 10), t, 300});
    else v.push_back({flow_frame(i % 37, 18 + (i * 13) % 400), t});
  }
  return v;
}

bytes pcapng_image(const std::vector<bytes>& frames, std::uint64_t ts0) {
  bytes img;
  auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) img.push_back(std::byte((v >> (8 * i)) & 0xff)); };
  auto u16 = [&](std::uint16_t v) { img.push_back(std::byte(v & 0xff)); img.push_back(std::byte(v >> 8)); };
  u32(0x0A0D0D0A); u32(28); u32(0x1A2B3C4D); u16(1); u16(0); u32(0xffffffff); u32(0xffffffff); u32(28);
  u32(1); u32(32); u16(1); u16(0); u32(65535);
  u16(9); u16(1); img.push_back(std::byte{9}); img.push_back({}); img.push_back({}); img.push_back({});   // ns
  u32(0); u32(32);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& fr = frames[i];
    const std::uint32_t padded = (static_cast<std::uint32_t>(fr.size()) + 3) & ~3u;
    const std::uint64_t ts = ts0 + i * 1000;
    u32(6); u32(32 + padded); u32(0); u32(static_cast<std::uint32_t>(ts >> 32)); u32(static_cast<std::uint32_t>(ts));
    u32(static_cast<std::uint32_t>(fr.size())); u32(static_cast<std::uint32_t>(fr.size()));
    img.insert(img.end(), fr.begin(), fr.end());
    img.resize(img.size() + (padded - fr.size()));
    u32(32 + padded);
  }
  return img;
}

struct outcome {
  std::uint64_t frames = 0, frames_hash = 0, events = 0, events_hash = 0;
  std::uint64_t trace_frames = 0, ipackets = 0, imissed = 0, ierrors = 0, total = 0;
  std::vector<std::string> drops;
  bool done = false;
};

// One thread, ingest then poll: deterministic. `budget` larger than a small ring makes ring-full drops.
template <class Source>
outcome replay(const sim::sim_nic_config& c, Source& src, std::size_t budget) {
  outcome o;
  sim::sim_nic nic(c);
  nic.load(src);
  trace::drain();
  trace::enable(true);
  fnv h;
  auto poll = [&] {
    std::size_t got = 0;
    for (std::uint16_t q = 0; q < nic.queues(); ++q) {
      port::frame_ref f[64];
      const std::size_t n = nic.queue(q).rx_burst(f);
      for (std::size_t i = 0; i < n; ++i) {
        h.mix64(q); h.mix64(f[i].meta.packet_id); h.mix64(f[i].meta.t_ns); h.mix64(f[i].meta.rss_hash);
        h.mix(f[i].bytes.data(), f[i].bytes.size());
      }
      nic.queue(q).rx_release({f, n});
      o.frames += n;
      got += n;
    }
    return got;
  };
  while (nic.step(budget)) while (poll()) {}
  while (poll()) {}
  nic.return_cache();
  trace::enable(false);
  const auto ev = trace::drain();
  o.frames_hash = h.h;
  o.events = ev.size();
  o.events_hash = trace::hash(ev);
  const auto k = nic.counters();
  o.trace_frames = k.trace_frames;
  o.ipackets = k.total.ipackets;
  o.imissed = k.total.imissed;
  o.ierrors = k.ierrors();
  o.total = nic.trace_frames_total();
  for (const auto& d : nic.drop_log()) o.drops.push_back(d.to_string());
  o.done = nic.done();
  EXPECT_EQ(nic.pool().out(), 0u);
  return o;
}

void expect_same(const outcome& a, const outcome& b) {
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.frames_hash, b.frames_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.events_hash, b.events_hash);
  EXPECT_EQ(a.trace_frames, b.trace_frames);
  EXPECT_EQ(a.ipackets, b.ipackets);
  EXPECT_EQ(a.imissed, b.imissed);
  EXPECT_EQ(a.ierrors, b.ierrors);
  EXPECT_EQ(a.total, b.total);
  EXPECT_EQ(a.drops, b.drops);
  EXPECT_TRUE(a.done);
  EXPECT_TRUE(b.done);
}

}  // namespace

TEST(pcap_stream, gives_the_records_and_bytes_a_loaded_trace_gives) {
  temp_file f("stream-same");
  const auto frames = mixed_frames();
  write_pcap(f.path, frames);
  expect_same_records(f.path);
  // Offsets counted here from the file's layout (24-byte file header, 16-byte record headers), not
  // by the reader under test (which computes them from caplen instead of asking the FILE).
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  std::uint64_t at = 24;
  for (const auto& fr : frames) {
    ASSERT_NE(s->peek(), nullptr);
    EXPECT_EQ(s->peek()->rec.file_offset, at);
    at += 16 + fr.data.size();
    s->pop();
  }
}

TEST(pcap_stream, a_record_longer_than_the_snaplen_keeps_later_offsets_right) {
  // libpcap cuts a record whose caplen exceeds the file's snaplen to the snaplen (and skips the rest):
  // caplen then no longer tells where the next record starts.
  temp_file f("stream-snap");
  write_pcap(f.path, {{flow_frame(1, 100), 1}, {flow_frame(2, 10), 2}, {flow_frame(3, 10), 3}}, DLT_EN10MB, 64);
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  const std::uint64_t first = 16 + flow_frame(1, 100).size(), second = 16 + flow_frame(2, 10).size();
  const std::uint64_t want[] = {24, 24 + first, 24 + first + second};
  for (std::uint64_t n = 1; n <= 3; ++n) {
    ASSERT_NE(s->peek(), nullptr) << s->error();
    EXPECT_EQ(s->peek()->rec.number, n);
    EXPECT_EQ(s->peek()->rec.file_offset, want[n - 1]) << "packet " << n;
    if (n == 1) {
      EXPECT_EQ(s->peek()->rec.caplen, 64u);
    }
    s->pop();
  }
  EXPECT_EQ(s->peek(), nullptr);
  EXPECT_EQ(s->error(), "");
}

TEST(pcap_stream, reads_pcapng_and_converted_link_types_as_the_loaded_trace_does) {
  temp_file ng("stream-ng");
  write_file(ng.path, pcapng_image({flow_frame(1), flow_frame(2, 100), flow_frame(3, 7)}, 1'234'567'890'000ull));
  expect_same_records(ng.path);
  auto s = sim::pcap_stream::open(ng.path);
  ASSERT_TRUE(s) << s.error;
  ASSERT_NE(s->peek(), nullptr);
  EXPECT_EQ(s->peek()->rec.file_offset, 28u + 32u);   // after the SHB and the IDB
  EXPECT_EQ(s->peek()->rec.ts_ns, 1'234'567'890'000ull);

  const auto eth = ipv4_frame({10, 0, 0, 1}, {239, 1, 2, 3}, 5000, 6000);
  const bytes ip(eth.begin() + 14, eth.end());
  temp_file raw("stream-raw");
  write_pcap(raw.path, {{ip, 5}, {ip, 9}}, DLT_RAW);
  expect_same_records(raw.path);
  auto r = sim::pcap_stream::open(raw.path);
  ASSERT_TRUE(r) << r.error;
  ASSERT_NE(r->peek(), nullptr);
  const std::uint8_t want_dst[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};   // 239.1.2.3's MAC
  EXPECT_EQ(std::memcmp(r->peek()->bytes.data(), want_dst, 6), 0);
  EXPECT_EQ(std::memcmp(r->peek()->bytes.data() + 14, ip.data(), ip.size()), 0);
}

TEST(pcap_stream, rewind_restarts_the_file_and_keeps_counting_sequence_numbers) {
  temp_file f("stream-rewind");
  write_pcap(f.path, {{flow_frame(1), 10}, {flow_frame(2), 20}, {flow_frame(3), 30}});
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  for (int loop = 0; loop < 3; ++loop) {
    for (std::uint64_t n = 1; n <= 3; ++n) {
      ASSERT_NE(s->peek(), nullptr);
      EXPECT_EQ(s->peek()->rec.number, n);
      EXPECT_EQ(s->peek()->rec.ts_ns, n * 10);
      s->pop();
    }
    EXPECT_EQ(s->peek(), nullptr);
    ASSERT_TRUE(s->rewind()) << s->error();
  }
  EXPECT_EQ(s->sequence(), 9u);
  // find(): the metadata of recently popped records by sequence number (what a ring-full drop names).
  ASSERT_NE(s->find(7), nullptr);
  EXPECT_EQ(s->find(7)->number, 2u);
  EXPECT_EQ(s->find(7)->file_offset, 24u + (16u + flow_frame(1).size()));
  EXPECT_EQ(s->find(9), nullptr);   // not read yet
  ASSERT_TRUE(s->rewind());
  ASSERT_NE(s->peek(), nullptr);
  ASSERT_NE(s->find(9), nullptr);   // the record at hand
  EXPECT_EQ(s->find(9)->number, 1u);
  EXPECT_EQ(s->find(10), nullptr);
  ASSERT_TRUE(s->restart());
  EXPECT_EQ(s->sequence(), 0u);
  EXPECT_EQ(s->find(0), nullptr);
}

TEST(pcap_stream, metadata_window_is_bounded) {
  temp_file f("stream-window");
  std::vector<pcap_frame> v;
  for (std::uint32_t i = 0; i < 600; ++i) v.push_back({flow_frame(i), 1000ull + i});
  write_pcap(f.path, v);
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  while (s->peek()) s->pop();
  EXPECT_EQ(s->find(600 - sim::pcap_stream::recent - 1), nullptr);   // fell out of the window
  ASSERT_NE(s->find(600 - sim::pcap_stream::recent), nullptr);
  EXPECT_EQ(s->find(600 - sim::pcap_stream::recent)->number, 600 - sim::pcap_stream::recent + 1);
  EXPECT_EQ(s->find(599)->ts_ns, 1599u);
}

// Crafted bad files: each error names the file, the packet number and the byte offset of its record.
TEST(pcap_stream, bad_files_are_named_by_packet_and_byte_offset) {
  temp_file good("stream-good");
  write_pcap(good.path, {{flow_frame(1), 1}, {flow_frame(2), 2}, {flow_frame(3), 3}});
  const bytes img = read_file(good.path);
  const std::size_t rec = 16 + flow_frame(1).size();   // 76
  const std::string at3 = std::to_string(24 + 2 * rec);
  struct row {
    std::string tag;
    bytes image;
    std::uint64_t frames_before;   // frames read before the error
    std::string want;              // after "PATH: "
  };
  bytes data_cut(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(24 + 2 * rec + 16 + 20));
  bytes header_cut(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(24 + 2 * rec + 5));
  bytes bad_caplen = img;
  // Packet 3's caplen (bytes 8..11 of its record header, little endian) made 0x7ffffff0.
  const std::size_t cl = 24 + 2 * rec + 8;
  bad_caplen[cl] = std::byte{0xf0}; bad_caplen[cl + 1] = std::byte{0xff}; bad_caplen[cl + 2] = std::byte{0xff};
  bad_caplen[cl + 3] = std::byte{0x7f};
  for (const row& r : std::vector<row>{
           {"data", data_cut, 2, "packet 3 at byte offset " + at3 + ": truncated dump file; tried to read 60 captured bytes, only got 20"},
           {"header", header_cut, 2, "packet 3 at byte offset " + at3 + ": truncated dump file; tried to read 16 header bytes, only got 5"},
           {"caplen", bad_caplen, 2, "packet 3 at byte offset " + at3 + ": invalid packet capture length 2147483632, bigger than snaplen of 65535"}}) {
    SCOPED_TRACE(r.tag);
    temp_file f("stream-bad-" + r.tag);
    write_file(f.path, r.image);
    auto s = sim::pcap_stream::open(f.path);
    ASSERT_TRUE(s) << s.error;
    std::uint64_t n = 0;
    while (s->peek()) { s->pop(); ++n; }
    EXPECT_EQ(n, r.frames_before);
    EXPECT_EQ(s->error(), f.path + ": " + r.want);
    // The loaded trace says the same at open.
    auto t = sim::pcap_trace::open(f.path);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error, s->error());
  }
  // A file that ends inside its own header, and a read error (a directory): refused at open.
  temp_file tiny("stream-tiny");
  write_file(tiny.path, bytes(img.begin(), img.begin() + 10));
  auto s = sim::pcap_stream::open(tiny.path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error, tiny.path + ": not a pcap or pcapng file (truncated dump file; tried to read 24 file header bytes, only got 6)");
  const std::string dir = "/tmp/ringlab-sim-stream-dir-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto d = sim::pcap_stream::open(dir);
  ::rmdir(dir.c_str());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error, dir + ": not a pcap or pcapng file (error reading dump file: Is a directory)");
  auto m = sim::pcap_stream::open("/nonexistent/ringlab/x.pcap");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error, "/nonexistent/ringlab/x.pcap: cannot open: No such file or directory");
}

TEST(pcap_stream, sim_nic_replays_a_stream_exactly_as_the_loaded_file) {
  temp_file f("stream-nic");
  write_pcap(f.path, mixed_frames());
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_TRUE(t) << t.error;
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  struct cfg_row {
    std::string what;
    sim::sim_nic_config c;
    std::size_t budget;
  };
  std::vector<cfg_row> rows;
  {
    sim::sim_nic_config c;
    c.timing.loops = 3;
    rows.push_back({"afap, 3 loops", c, 64});
    c.ring_size = 16;   // 64 frames a step into a 16-slot ring: ring-full drops named from the stream's window
    rows.push_back({"full ring, 3 loops", c, 64});
  }
  {
    sim::sim_nic_config c;
    c.queues = 4;
    c.timing.loops = 2;
    c.timing.mode = sim::pacing::mbps;
    c.timing.mbps = 100;
    c.rx_faults = *port::parse_fault_spec("drop=0.05,dup=0.05,reorder=0.1:8,corrupt=0.05,delay=20us,jitter=5us", nullptr);
    c.seed = 11;
    rows.push_back({"4 queues, mbps, faults, 2 loops", c, 32});
  }
  {
    sim::sim_nic_config c;
    c.timing.mode = sim::pacing::recorded;
    c.timing.speed = 2.5;
    c.timing.loops = 2;
    c.rx_faults = *port::parse_fault_spec("reorder=0.2:4", nullptr);
    rows.push_back({"recorded x2.5, reorder, 2 loops", c, 1});
    c.timing.mode = sim::pacing::pps;
    c.timing.pps = 1e6;
    rows.push_back({"pps, reorder, 2 loops", c, 256});
  }
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    const outcome a = replay(r.c, *t, r.budget);
    const outcome b = replay(r.c, *s, r.budget);   // load() restarts the stream each time
    expect_same(a, b);
    EXPECT_EQ(b.trace_frames, 300u * r.c.timing.loops);
    EXPECT_EQ(b.total, 300u * r.c.timing.loops);
    EXPECT_GE(b.drops.size(), 2u * r.c.timing.loops);   // the runt and the cut frame, each loop (capped at 64)
  }
  // The drop log names packets by number and offset from the stream too (ring-full drops included).
  const outcome full = replay(rows[1].c, *s, 64);
  ASSERT_GT(full.imissed, 0u);
  bool ring_full_named = false;
  for (const auto& d : full.drops) ring_full_named |= d.find("ring_full") != std::string::npos && d.rfind("packet ", 0) == 0;
  EXPECT_TRUE(ring_full_named);
}

TEST(pcap_stream, sim_nic_ends_a_stream_at_a_bad_record_and_names_it) {
  temp_file good("stream-nic-good");
  write_pcap(good.path, {{flow_frame(1), 100}, {flow_frame(2), 200}, {flow_frame(3), 300}});
  bytes img = read_file(good.path);
  const std::size_t rec = 16 + flow_frame(1).size();
  img.resize(24 + 2 * rec + 16 + 20);
  temp_file f("stream-nic-cut");
  write_file(f.path, img);
  auto s = sim::pcap_stream::open(f.path);
  ASSERT_TRUE(s) << s.error;
  sim::sim_nic_config c;
  c.timing.loops = 5;
  const outcome o = replay(c, *s, 8);
  EXPECT_EQ(o.frames, 2u);
  EXPECT_EQ(o.trace_frames, 2u);
  EXPECT_EQ(o.total, 2u);
  EXPECT_TRUE(o.done);
  sim::sim_nic nic(c);
  nic.load(*s);
  while (nic.step(8)) {}
  EXPECT_EQ(nic.trace_error(),
            f.path + ": packet 3 at byte offset " + std::to_string(24 + 2 * rec) +
                ": truncated dump file; tried to read 60 captured bytes, only got 20");
  EXPECT_EQ(nic.counters().total.ipackets, 2u);
}
