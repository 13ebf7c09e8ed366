// `ringlab repro` as a user runs it: record a sim run, check it reproduces, and see a difference named
// by its checkpoint, event, packet and hop. The expected differences are computed here from the two
// runs' own event files, and the trace digests by sha256sum (coreutils), not by the code under test.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "trace/repro_log.hpp"

namespace fs = std::filesystem;
using ringlab::test::ringlab_binary;
using ringlab::test::source_file;

namespace {

std::string temp(const std::string& name) { return ringlab::test::temp_path("repro", name); }

ringlab::test::command_result run_ringlab(std::vector<std::string> args) {
  args.insert(args.begin(), {"timeout", "120", ringlab_binary()});
  return ringlab::test::run(args);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<ringlab::trace::repro_record> events_of(const fs::path& p) {
  const std::string b = slurp(p);
  std::vector<ringlab::trace::repro_record> v(b.size() / sizeof(ringlab::trace::repro_record));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(ringlab::trace::repro_record));
  return v;
}

std::string sha256sum(const std::string& file) {
  const auto r = ringlab::test::run({"sha256sum", file});
  return r.out.substr(0, 64);
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// A run with faults on two queues: RSS, faults, rings, pool, release all emit events.
std::vector<std::string> replay_cmd(const std::string& trace, const std::string& seed) {
  return {"replay", trace, "--queues", "2", "--faults", "drop=0.02,dup=0.02,reorder=0.05:8,corrupt=0.02", "--seed", seed};
}

ringlab::test::command_result record(const std::string& dir, const std::vector<std::string>& cmd, const std::string& every = "500") {
  std::vector<std::string> a = {"repro", "record", "--out", dir, "--every", every, "--"};
  a.insert(a.end(), cmd.begin(), cmd.end());
  return run_ringlab(a);
}

// Event i as check names it: the packet (trace/packet_id.hpp's layout, decoded here by hand: bit 63 a
// frame a stack sent, bits 39..62 its stack's tag (6 hex digits), the rest its number there; bit 62
// alone a frame a sim wire delivered without an id), the hop, the verdict.
std::string named(const std::vector<ringlab::trace::repro_record>& ev, std::size_t i) {
  namespace tr = ringlab::trace;
  const std::uint64_t id = ev[i].packet_id;
  std::string who = "packet " + std::to_string(id);
  if (id >> 63) {
    char tag[8];
    std::snprintf(tag, sizeof tag, "%06llx", static_cast<unsigned long long>((id >> 39) & 0xffffff));
    who = std::string("stack ") + tag + " frame " + std::to_string(id & ((1ull << 39) - 1));
  } else if (id >> 62 == 1) {
    who = "wire frame " + std::to_string(id & ((1ull << 62) - 1));
  }
  return who + " hop " + std::string(tr::to_string(static_cast<tr::hop>(ev[i].stage))) + " (" +
         std::string(tr::to_string(static_cast<tr::verdict>(ev[i].v)));
}

// `repro check` of bundle `dir` whose command was edited to the one that gave events `now`: exit 1,
// the first differing event named by its checkpoint (every `every` events), packet and hop on both sides.
// Returns the index of that event.
std::size_t expect_first_difference_named(const std::string& dir, const std::vector<ringlab::trace::repro_record>& recorded,
                                          const std::vector<ringlab::trace::repro_record>& now, std::size_t every) {
  std::size_t i = 0;
  while (i < recorded.size() && i < now.size() && recorded[i] == now[i]) ++i;
  EXPECT_LT(i, std::min(recorded.size(), now.size())) << "the runs gave the same events";
  if (i >= std::min(recorded.size(), now.size())) return i;
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  const std::size_t cp = i / every + 1;
  EXPECT_TRUE(has_line(c.out, "DIFFERS at checkpoint " + std::to_string(cp) + " (events " + std::to_string((cp - 1) * every) +
                                  ".." + std::to_string(cp * every - 1) + "): first at event " + std::to_string(i)))
      << c.out;
  EXPECT_NE(c.out.find("\n  bundle:   " + named(recorded, i)), std::string::npos) << named(recorded, i) << "\n" << c.out;
  EXPECT_NE(c.out.find("\n  this run: " + named(now, i)), std::string::npos) << named(now, i) << "\n" << c.out;
  return i;
}

}  // namespace

TEST(repro, a_recorded_replay_checks_the_same_and_the_bundle_says_what_ran) {
  const std::string dir = temp("same"), flows = source_file("traces/flows.pcap");
  fs::remove_all(dir);
  const auto r = record(dir, replay_cmd(flows, "7"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto ev = events_of(fs::path(dir) / "events.bin");
  ASSERT_GT(ev.size(), 4096u * 4) << "every frame passes several hops";
  const std::string b = slurp(fs::path(dir) / "bundle.txt");
  EXPECT_TRUE(b.starts_with("ringlab-repro 1\narg replay\narg " + flows + "\narg --queues\narg 2\n")) << b;
  EXPECT_TRUE(has_line(b, "seed 7")) << b;
  EXPECT_TRUE(has_line(b, "file " + sha256sum(flows) + " " + flows)) << b;
  EXPECT_TRUE(has_line(b, "events " + std::to_string(ev.size()))) << b;
  EXPECT_TRUE(has_line(b, "every 500")) << b;
  EXPECT_TRUE(has_line(b, "exit 0")) << b;
  // One checkpoint per 500 events, the last one at the largest multiple of 500.
  const std::size_t cps = ev.size() / 500;
  char line[64];
  std::uint64_t h = ringlab::trace::repro_hash_seed;
  for (std::size_t i = 0; i < cps * 500; ++i) h = ringlab::trace::repro_hash(h, ev[i]);
  std::snprintf(line, sizeof line, "checkpoint %zu %016llx", cps * 500, static_cast<unsigned long long>(h));
  EXPECT_TRUE(has_line(b, line)) << line;
  EXPECT_EQ(b.find("checkpoint " + std::to_string((cps + 1) * 500) + " "), std::string::npos);
  // The command's own output is kept beside it.
  EXPECT_NE(slurp(fs::path(dir) / "stdout.txt").find("ipackets"), std::string::npos);

  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_TRUE(has_line(c.out, "SAME: " + std::to_string(ev.size()) + " events, " + std::to_string(cps) +
                                  " checkpoints, final hash " + b.substr(b.find("final ") + 6, 16) + ", exit 0"))
      << c.out;
  fs::remove_all(dir);
}

TEST(repro, another_seed_is_named_by_checkpoint_event_packet_and_hop) {
  const std::string a = temp("seed7"), b = temp("seed8"), flows = source_file("traces/flows.pcap");
  fs::remove_all(a);
  fs::remove_all(b);
  ASSERT_EQ(record(a, replay_cmd(flows, "7")).exit_code, 0);
  ASSERT_EQ(record(b, replay_cmd(flows, "8")).exit_code, 0);
  // The bundle of seed 7 with its command changed to seed 8: as if another machine ran it differently.
  std::string text = slurp(fs::path(a) / "bundle.txt");
  const auto at = text.find("arg 7\n");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "arg 8\n");
  // The seed line is derived from the command (check refuses a bundle where they disagree).
  const auto seed_at = text.find("\nseed 7\n");
  ASSERT_NE(seed_at, std::string::npos);
  text.replace(seed_at, 8, "\nseed 8\n");
  std::ofstream(fs::path(a) / "bundle.txt") << text;
  expect_first_difference_named(a, events_of(fs::path(a) / "events.bin"), events_of(fs::path(b) / "events.bin"), 500);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(repro, a_changed_trace_is_reported_before_anything_runs) {
  const std::string dir = temp("trace"), copy = temp("copy.pcap");
  fs::remove_all(dir);
  fs::copy_file(source_file("traces/malformed.pcap"), copy, fs::copy_options::overwrite_existing);
  ASSERT_EQ(record(dir, {"replay", copy}).exit_code, 0);
  const std::string before = sha256sum(copy);
  // check runs on the bundle's copy of the trace: the one to change.
  const std::string in_bundle = dir + "/inputs/1-" + fs::path(copy).filename().string();
  ASSERT_EQ(sha256sum(in_bundle), before);
  {
    std::fstream f(in_bundle, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_TRUE(has_line(c.out, "DIFFERS: input " + copy + " changed (sha256 " + sha256sum(in_bundle) + ", bundle " + before +
                                  "; in " + in_bundle + "): the run cannot be the same"))
      << c.out;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "check")) << "nothing ran";
  fs::remove_all(dir);
  fs::remove(copy);
}

// The bundle holds a copy of each input's bytes, never a link to it: regenerating or editing the
// original (traces/README says how) leaves every bundle checking the same, and editing the bundle's
// copy leaves the original as it was.
TEST(repro, the_bundle_copies_its_input_so_rewriting_the_original_leaves_it_the_same) {
  const std::string dir = temp("copied"), orig = temp("orig.pcap");
  fs::remove_all(dir);
  fs::copy_file(source_file("traces/malformed.pcap"), orig, fs::copy_options::overwrite_existing);
  const std::string digest = sha256sum(orig);
  ASSERT_EQ(record(dir, {"replay", orig}).exit_code, 0);
  const std::string in_bundle = dir + "/inputs/1-" + fs::path(orig).filename().string();
  struct stat a{}, b{};
  ASSERT_EQ(::stat(orig.c_str(), &a), 0);
  ASSERT_EQ(::stat(in_bundle.c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino) << "the bundle's input is a link to the original";
  EXPECT_EQ(b.st_nlink, 1u);
  EXPECT_EQ(sha256sum(in_bundle), digest);
  // Rewrite the original in place (same inode, other bytes), as a regenerated trace would be.
  {
    std::fstream f(orig, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  ASSERT_NE(sha256sum(orig), digest);
  EXPECT_EQ(sha256sum(in_bundle), digest) << "the bundle's copy changed with the original";
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("\nSAME: "), std::string::npos) << c.out;
  fs::remove_all(dir);
  fs::remove(orig);
}

TEST(repro, bad_input_is_refused_naming_it) {
  auto expect = [](std::vector<std::string> args, const std::string& line) {
    const auto r = run_ringlab(args);
    EXPECT_EQ(r.exit_code, 2) << line;
    EXPECT_EQ(r.err, "ringlab repro: " + line + "\n");
  };
  const std::string feed = source_file("traces/mcast-feed.pcap");
  expect({"repro"}, "record or check is missing (see --help)");
  expect({"repro", "record", "replay", feed}, "record needs the command after '--': ringlab repro record -- replay FILE ...");
  expect({"repro", "record", "--"}, "record needs the command after '--': ringlab repro record -- replay FILE ...");
  expect({"repro", "record", "--", "rings"},
         "'rings' is not a sim command: replay, demo, mcast-recv, trace replay and tcp-echo client --backend sim are");
  const std::string tcp_only = "'tcp-echo' reproduces as 'tcp-echo client --backend sim' only (Linux TCP and real NICs do not replay the same)";
  expect({"repro", "record", "--", "tcp-echo", "client"}, tcp_only);
  expect({"repro", "record", "--", "tcp-echo", "server", "--backend", "sim"}, tcp_only);
  expect({"repro", "record", "--", "tcp-echo", "client", "--backend=dpdk"},
         "--backend dpdk does not run on the simulated NIC's virtual clock: it cannot reproduce");
  expect({"repro", "record", "--cwd", "/", "--", "replay", feed}, "--cwd does not apply to record");
  expect({"repro", "check", "--force", "b"}, "--force does not apply to check");
  expect({"repro", "record", "--", "trace", "kernel", feed},
         "'trace kernel' runs the kernel or real time: only 'trace replay' reproduces");
  expect({"repro", "record", "--", "demo", "--backend", "afxdp"},
         "--backend afxdp does not run on the simulated NIC's virtual clock: it cannot reproduce");
  expect({"repro", "record", "--", "replay", feed, "--clock", "real"},
         "--clock real does not run on the simulated NIC's virtual clock: it cannot reproduce");
  expect({"repro", "check", "/nonexistent-bundle"},
         "'/nonexistent-bundle' holds no bundle.txt (ringlab repro record writes one)");
  expect({"repro", "check", "a", "b"}, "unexpected argument 'b' (check BUNDLE; see --help)");
  expect({"repro", "nosuch"}, "'nosuch' is not record or check");
  const std::string dir = temp("badbundle");
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "bundle.txt") << "ringlab-repro 1\narg replay\nevery x\n";
  expect({"repro", "check", dir}, dir + "/bundle.txt:3: bad value 'x'");
  fs::remove_all(dir);
}

namespace {

// tcp-echo --backend sim: both hosts in one process on sim_pair's virtual clock, the wire's faults seeded.
std::vector<std::string> tcp_cmd(const std::string& faults, const std::string& seed) {
  return {"tcp-echo", "client", "--backend", "sim", "--bytes", "20k", "--faults", faults, "--seed", seed};
}

// Counts the wire's drops the command printed: "wire a->b: N frames, D dropped; b->a: N frames, D dropped".
std::uint64_t wire_drops(const std::string& err) {
  const auto at = err.find("wire a->b: ");
  if (at == std::string::npos) return ~0ull;
  unsigned long long fa = 0, da = 0, fb = 0, db = 0;
  if (std::sscanf(err.c_str() + at, "wire a->b: %llu frames, %llu dropped; b->a: %llu frames, %llu dropped", &fa, &da, &fb, &db) != 4)
    return ~0ull;
  return da + db;
}

}  // namespace

TEST(repro, tcp_echo_over_sim_records_twice_the_same_and_checks_the_same) {
  const std::string a = temp("tcp_a"), b = temp("tcp_b");
  fs::remove_all(a);
  fs::remove_all(b);
  const auto cmd = tcp_cmd("drop=0.05,reorder=0.05:4", "3");
  const auto ra = record(a, cmd, "200");
  ASSERT_EQ(ra.exit_code, 0) << ra.out << ra.err;
  ASSERT_EQ(record(b, cmd, "200").exit_code, 0);
  // Virtual clock, one thread, seeded faults: the same events, byte for byte, and the same bundle.
  EXPECT_EQ(slurp(fs::path(a) / "events.bin"), slurp(fs::path(b) / "events.bin"));
  const std::string ba = slurp(fs::path(a) / "bundle.txt");
  EXPECT_EQ(ba.substr(ba.find("\nrevision ")), [&] { const auto x = slurp(fs::path(b) / "bundle.txt"); return x.substr(x.find("\nrevision ")); }());
  EXPECT_TRUE(has_line(ba, "seed 3")) << ba;
  EXPECT_EQ(ba.find("\nfile "), std::string::npos) << "tcp-echo over sim reads no file";
  // The TCP segments' hops are in it: every segment the stacks took (hop tcp, delivered) and every
  // frame the wire's faults dropped, as many as the command counted.
  const auto ev = events_of(fs::path(a) / "events.bin");
  std::size_t tcp = 0, dropped = 0;
  for (const auto& e : ev) {
    tcp += e.stage == static_cast<std::uint8_t>(ringlab::trace::hop::tcp);
    dropped += e.stage == static_cast<std::uint8_t>(ringlab::trace::hop::wire) &&
               e.reason == static_cast<std::uint8_t>(ringlab::trace::drop_reason::fault_injected);
  }
  const std::string err = slurp(fs::path(a) / "stderr.txt");
  EXPECT_GT(tcp, 14u + 14u) << "20k in 1448-byte segments each way";
  EXPECT_GT(dropped, 0u) << err;
  EXPECT_EQ(dropped, wire_drops(err)) << err;
  EXPECT_NE(slurp(fs::path(a) / "stdout.txt").find("client conn 0 10.0.0.2:7007 sent=20480 received=20480 "), std::string::npos);

  const auto c = run_ringlab({"repro", "check", a});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_TRUE(has_line(c.out, "SAME: " + std::to_string(ev.size()) + " events, " + std::to_string(ev.size() / 200) +
                                  " checkpoints, final hash " + ba.substr(ba.find("final ") + 6, 16) + ", exit 0"))
      << c.out;
  fs::remove_all(a);
  fs::remove_all(b);
}

// Frames a stack sends carry their own packet id (trace/packet_id.hpp), stamped when the stack takes
// the frame: a segment's whole route, from its sender's tx to the peer's delivery, is one id, and the
// two hosts' ids never meet.
TEST(repro, a_tcp_segment_keeps_its_stack_packet_id_from_tx_to_delivery_and_ids_are_unique) {
  namespace tr = ringlab::trace;
  const std::string a = temp("tcp_ids");
  fs::remove_all(a);
  const auto r = record(a, {"tcp-echo", "client", "--backend", "sim", "--bytes", "8k"}, "100");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto ev = events_of(fs::path(a) / "events.bin");
  auto hop_is = [](const tr::repro_record& e, tr::hop h) { return e.stage == static_cast<std::uint8_t>(h); };
  // The first segment a stack took (hop tcp, delivered): the client's SYN.
  std::size_t first = ev.size();
  for (std::size_t i = 0; i < ev.size() && first == ev.size(); ++i)
    if (hop_is(ev[i], tr::hop::tcp) && ev[i].v == static_cast<std::uint8_t>(tr::verdict::deliver)) first = i;
  ASSERT_LT(first, ev.size());
  const std::uint64_t id = ev[first].packet_id;
  EXPECT_EQ(id >> 63, 1u) << "a frame a stack sent";
  std::vector<std::string> route;
  for (const auto& e : ev)
    if (e.packet_id == id) route.push_back(std::string(tr::to_string(static_cast<tr::hop>(e.stage))));
  const std::vector<std::string> want = {"tx",           "nic_tx",       "wire",    "nic_rx", "rss", "pool",
                                         "ring_enqueue", "ring_dequeue", "port_rx", "eth",    "ipv4", "tcp", "release"};
  EXPECT_EQ(route, want) << named(ev, first);
  // Every frame either host sent has an id of its own; two hosts, two senders; nothing unnumbered.
  std::vector<std::uint64_t> sent;
  std::vector<std::uint64_t> senders;
  for (const auto& e : ev) {
    EXPECT_NE(e.packet_id, 0u) << "every frame of a TCP run is numbered";
    if (!hop_is(e, tr::hop::tx)) continue;
    sent.push_back(e.packet_id);
    senders.push_back((e.packet_id >> 39) & 0xffffff);
  }
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(std::adjacent_find(sent.begin(), sent.end()), sent.end()) << "an id given twice";
  std::sort(senders.begin(), senders.end());
  senders.erase(std::unique(senders.begin(), senders.end()), senders.end());
  EXPECT_EQ(senders.size(), 2u) << "client host and server host";
  // Each sent frame's nic_tx and wire hops are under its id: as many as the tx hops.
  std::size_t nic_tx = 0;
  for (const auto& e : ev) nic_tx += hop_is(e, tr::hop::nic_tx) && e.packet_id >> 63;
  EXPECT_EQ(nic_tx, sent.size());
  fs::remove_all(a);
}

TEST(repro, tcp_echo_with_another_seed_or_faults_differs_naming_the_packet_and_hop) {
  struct edit {
    std::vector<std::string> other;   // the command the bundle is edited to
    std::string from, to;             // bundle.txt's lines, before and after
  };
  const std::vector<edit> edits = {
      {tcp_cmd("drop=0.05", "4"), "arg 3\n", "arg 4\n"},
      {tcp_cmd("drop=0.08", "3"), "arg drop=0.05\n", "arg drop=0.08\n"},
  };
  for (const auto& e : edits) {
    SCOPED_TRACE(e.to);
    const std::string a = temp("tcp_seed_a"), b = temp("tcp_seed_b");
    fs::remove_all(a);
    fs::remove_all(b);
    ASSERT_EQ(record(a, tcp_cmd("drop=0.05", "3"), "100").exit_code, 0);
    ASSERT_EQ(record(b, e.other, "100").exit_code, 0);
    // Bundle a with b's command: as if another machine ran it differently.
    std::string text = slurp(fs::path(a) / "bundle.txt");
    const auto at = text.find(e.from);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, e.from.size(), e.to);
    if (e.to == "arg 4\n") text.replace(text.find("\nseed 3\n"), 8, "\nseed 4\n");
    std::ofstream(fs::path(a) / "bundle.txt") << text;
    const auto ea = events_of(fs::path(a) / "events.bin");
    const std::size_t i = expect_first_difference_named(a, ea, events_of(fs::path(b) / "events.bin"), 100);
    // Where the wire's faults part the runs, the packet is a segment a stack sent, named by its id.
    ASSERT_LT(i, ea.size());
    EXPECT_EQ(ea[i].packet_id >> 63, 1u) << named(ea, i);
    fs::remove_all(a);
    fs::remove_all(b);
  }
}

TEST(repro, a_bundle_moved_to_another_directory_checks_the_same) {
  const std::string work = temp("work"), moved = temp("moved");
  fs::remove_all(work);
  fs::remove_all(moved);
  fs::create_directories(work);
  fs::create_directories(moved);
  fs::copy_file(source_file("traces/mcast-feed.pcap"), work + "/feed.pcap");
  // Recorded in `work` with a relative path, as a user in their checkout.
  const auto r = ringlab::test::run({"env", "-C", work, "timeout", "120", ringlab_binary(), "repro", "record", "--out", "b",
                                     "--every", "100", "--", "replay", "feed.pcap", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(slurp(work + "/b/inputs/1-feed.pcap"), slurp(source_file("traces/mcast-feed.pcap")));
  // Another machine: the bundle elsewhere, the working directory and its trace gone.
  fs::rename(work + "/b", moved + "/b");
  fs::remove_all(work);
  const auto c = run_ringlab({"repro", "check", moved + "/b"});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_TRUE(has_line(c.out, "  working directory " + work + " (recorded) does not exist here: running in " + moved + "/b"))
      << c.out;
  EXPECT_NE(c.out.find("\nSAME: "), std::string::npos) << c.out;
  // Without the bundle's copy the trace is nowhere: say where to look, nothing runs.
  fs::remove_all(moved + "/b/inputs");
  fs::remove_all(moved + "/b/check");
  const auto n = run_ringlab({"repro", "check", moved + "/b"});
  EXPECT_EQ(n.exit_code, 2) << n.out;
  EXPECT_EQ(n.err, "ringlab repro: working directory " + work +
                       " (recorded) does not exist here and the bundle has no copy of feed.pcap; run with --cwd DIR\n");
  EXPECT_FALSE(fs::exists(moved + "/b/check"));
  // --cwd: a directory where the trace is.
  fs::copy_file(source_file("traces/mcast-feed.pcap"), moved + "/feed.pcap");
  const auto w = run_ringlab({"repro", "check", "--cwd", moved, moved + "/b"});
  EXPECT_EQ(w.exit_code, 0) << w.out << w.err;
  EXPECT_NE(w.out.find("\nSAME: "), std::string::npos) << w.out;
  // --cwd where the trace is not: named, with where it was looked for.
  const auto x = run_ringlab({"repro", "check", "--cwd", moved + "/b", moved + "/b"});
  EXPECT_EQ(x.exit_code, 2) << x.out;
  EXPECT_EQ(x.err, "ringlab repro: input feed.pcap cannot be read (" + moved + "/b/feed.pcap: the bundle has no copy)\n");
  const auto y = run_ringlab({"repro", "check", "--cwd", moved + "/nodir", moved + "/b"});
  EXPECT_EQ(y.exit_code, 2);
  EXPECT_EQ(y.err, "ringlab repro: --cwd: '" + moved + "/nodir' is not a directory\n");
  fs::remove_all(moved);
}

TEST(repro, record_refuses_to_overwrite_and_keeps_nothing_of_a_failed_command) {
  const std::string dir = temp("force");
  fs::remove_all(dir);
  const auto cmd = tcp_cmd("drop=0.01", "1");
  ASSERT_EQ(record(dir, cmd).exit_code, 0);
  const std::string first = slurp(fs::path(dir) / "bundle.txt");
  const auto again = record(dir, tcp_cmd("drop=0.01", "2"));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(again.err, "ringlab repro: " + dir + " holds a bundle; --force to replace it\n");
  EXPECT_EQ(slurp(fs::path(dir) / "bundle.txt"), first);
  // A directory of something else is not written into.
  const std::string other = temp("notabundle");
  fs::create_directories(other);
  std::ofstream(other + "/stdout.txt") << "mine\n";
  const auto into = record(other, cmd);
  EXPECT_EQ(into.exit_code, 2);
  EXPECT_EQ(into.err, "ringlab repro: " + other + " is not empty and holds no bundle: --out needs a new or empty directory\n");
  EXPECT_EQ(slurp(other + "/stdout.txt"), "mine\n");
  fs::remove_all(other);
  // Its parents are not made: a typo in the path is refused (as every other --out), nothing created.
  const std::string deep = temp("no-such-parent") + "/a/b";
  const auto nested = record(deep, cmd);
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_EQ(nested.err, "ringlab repro: --out: cannot create '" + deep + "': no directory '" +
                            fs::path(deep).parent_path().string() + "'\n");
  EXPECT_FALSE(fs::exists(temp("no-such-parent")));
  const auto forced = run_ringlab({"repro", "record", "--force", "--out", dir, "--", "tcp-echo", "client", "--backend", "sim",
                                   "--bytes", "20k", "--faults", "drop=0.01", "--seed", "2"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(has_line(slurp(fs::path(dir) / "bundle.txt"), "seed 2"));
  fs::remove_all(dir);

  // A command that refuses its arguments (exit 2): no bundle, its error shown, the same exit.
  const auto bad = record(dir, {"tcp-echo", "client", "--backend", "sim", "--connections", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err,
            "ringlab repro: the command failed (exit 2; --allow-failure records a failing run): no bundle written\n"
            "its standard error ended with:\n"
            "  | ringlab tcp-echo: --connections: '0' is not a whole number in 1..1024\n");
  EXPECT_FALSE(fs::exists(dir)) << "record created it and removed it";
  // A run that fails (the virtual --timeout cuts the echo short, exit 1): no bundle unless asked for.
  const std::vector<std::string> cut = {"tcp-echo", "client", "--backend", "sim", "--bytes", "20k", "--timeout", "0.0003"};
  const auto f = record(dir, cut);
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_TRUE(f.err.starts_with("ringlab repro: the command failed (exit 1; --allow-failure records a failing run): no bundle written\n"))
      << f.err;
  EXPECT_NE(f.err.find("  | tcp-echo: sim: the run ended (time limit) before every connection finished\n"), std::string::npos) << f.err;
  EXPECT_FALSE(fs::exists(dir));
  std::vector<std::string> allow = {"repro", "record", "--allow-failure", "--out", dir, "--"};
  allow.insert(allow.end(), cut.begin(), cut.end());
  const auto k = run_ringlab(allow);
  EXPECT_EQ(k.exit_code, 0) << k.err;
  EXPECT_TRUE(has_line(slurp(fs::path(dir) / "bundle.txt"), "exit 1"));
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out;
  EXPECT_NE(c.out.find("\nSAME: "), std::string::npos);
  EXPECT_NE(c.out.find(", exit 1\n"), std::string::npos) << c.out;
  fs::remove_all(dir);
}

TEST(repro, a_damaged_or_edited_bundle_is_bad_input_naming_the_file_and_line) {
  const std::string dir = temp("damaged"), flows = source_file("traces/malformed.pcap");
  fs::remove_all(dir);
  ASSERT_EQ(record(dir, {"replay", flows, "--seed", "7"}, "20").exit_code, 0);
  const fs::path bt = fs::path(dir) / "bundle.txt", eb = fs::path(dir) / "events.bin";
  const std::string text = slurp(bt), events = slurp(eb);
  const auto lines = ringlab::test::lines_of(text);
  auto expect = [&](const std::string& line) {
    const auto r = run_ringlab({"repro", "check", dir});
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.out;
    EXPECT_EQ(r.err, "ringlab repro: " + line + "\n");
    EXPECT_FALSE(fs::exists(fs::path(dir) / "check")) << "nothing ran: " << line;
  };
  auto put = [](const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; };
  // The bundle file itself works as the argument; another file is refused.
  const auto viafile = run_ringlab({"repro", "check", bt.string()});
  EXPECT_EQ(viafile.exit_code, 0) << viafile.out << viafile.err;
  fs::remove_all(fs::path(dir) / "check");
  const auto other = run_ringlab({"repro", "check", eb.string()});
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_EQ(other.err, "ringlab repro: '" + eb.string() + "' is a file: check takes the bundle's directory (or its bundle.txt)\n");
  // events.bin: missing, cut short, changed.
  fs::remove(eb);
  expect(eb.string() + ": cannot be read (No such file or directory)");
  put(eb, events.substr(0, events.size() - 5));
  expect(eb.string() + ": cut short (" + std::to_string(events.size() - 5) + " bytes: not a whole number of 16-byte events)");
  put(eb, events.substr(0, events.size() - 16));
  int events_at = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].starts_with("events ")) events_at = static_cast<int>(i) + 1;
  expect(eb.string() + " holds " + std::to_string(events.size() / 16 - 1) + " events, " + bt.string() + ":" +
         std::to_string(events_at) + " says " + std::to_string(events.size() / 16) + ": the bundle is damaged");
  // A changed event: named by the first checkpoint line whose hash the events no longer give.
  std::string flipped = events;
  flipped[40] = static_cast<char>(flipped[40] ^ 1);
  put(eb, flipped);
  int first_cp_line = 0;
  for (std::size_t i = 0; i < lines.size() && !first_cp_line; ++i)
    if (lines[i].starts_with("checkpoint 20 ")) first_cp_line = static_cast<int>(i) + 1;
  ASSERT_GT(first_cp_line, 0);
  const std::string cp1 = lines[static_cast<std::size_t>(first_cp_line) - 1];
  {
    const auto fe = events_of(eb);
    std::uint64_t h = ringlab::trace::repro_hash_seed;
    for (std::size_t i = 0; i < 20; ++i) h = ringlab::trace::repro_hash(h, fe[i]);
    char gives[17];
    std::snprintf(gives, sizeof gives, "%016llx", static_cast<unsigned long long>(h));
    expect(bt.string() + ":" + std::to_string(first_cp_line) + ": " + cp1 + ", " + eb.string() + " gives " + gives +
           ": the bundle is damaged");
  }
  put(eb, events);
  auto edit_line = [&](int line_no, const std::string& to) {
    std::string t;
    for (std::size_t i = 0; i < lines.size(); ++i) t += (static_cast<int>(i) + 1 == line_no ? to : lines[i]) + "\n";
    put(bt, t);
  };
  auto line_of = [&](const std::string& prefix) {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].starts_with(prefix)) return static_cast<int>(i) + 1;
    ADD_FAILURE() << "no line " << prefix;
    return 0;
  };
  // A checkpoint's hash edited: that line is named, with the hash the events give.
  {
    std::string h = cp1.substr(cp1.size() - 16), edited_h = h;
    edited_h[15] = edited_h[15] == '0' ? '1' : '0';
    edit_line(first_cp_line, "checkpoint 20 " + edited_h);
    expect(bt.string() + ":" + std::to_string(first_cp_line) + ": checkpoint 20 " + edited_h + ", " + eb.string() + " gives " + h +
           ": the bundle is damaged");
    // Whitespace or trailing bytes in it are refused, not read past.
    edit_line(first_cp_line, cp1 + " ");
    expect(bt.string() + ":" + std::to_string(first_cp_line) + ": bad value '" + cp1.substr(11) +
           " ' (a hash is 16 lower-case hex digits)");
    edit_line(first_cp_line, "checkpoint  20 " + h);
    expect(bt.string() + ":" + std::to_string(first_cp_line) + ": bad value ' 20 " + h + "'");
  }
  // The events count edited (keeping the number of checkpoints): its line is named.
  {
    const std::uint64_t n = events.size() / 16, m = n % 20 == 19 ? n - 1 : n + 1;
    const int el = line_of("events ");
    edit_line(el, "events " + std::to_string(m));
    expect(eb.string() + " holds " + std::to_string(n) + " events, " + bt.string() + ":" + std::to_string(el) + " says " +
           std::to_string(m) + ": the bundle is damaged");
  }
  // The every line edited: the first checkpoint it contradicts is named, and the every line with it.
  {
    const int ev_line = line_of("every ");
    edit_line(ev_line, "every 10");
    expect(bt.string() + ":" + std::to_string(first_cp_line) + ": checkpoint 20 where 'every 10' (line " +
           std::to_string(ev_line) + ") puts one at 10: the checkpoints or the every line were edited");
  }
  // The exit line edited: one verdict, DIFFERS, naming the line (the events are the same).
  {
    const int xl = line_of("exit ");
    edit_line(xl, "exit 1");
    const auto r = run_ringlab({"repro", "check", dir});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.out.find("SAME"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nDIFFERS: exit status 0, bundle 1 (" + bt.string() + ":" + std::to_string(xl) +
                         "); the events are the same: " + std::to_string(events.size() / 16) + " events, final hash "),
              std::string::npos)
        << r.out;
    fs::remove_all(fs::path(dir) / "check");
  }
  // The command edited into one that refuses its arguments: bad input (exit 2) showing the refusal.
  {
    std::string refused = text;
    refused.replace(refused.find("\narg 7\n"), 7, "\narg 7\narg --queues\narg 0\n");
    put(bt, refused);
    const auto r = run_ringlab({"repro", "check", dir});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.err, "ringlab repro: " + bt.string() + ": the command refused its arguments (exit 2); its standard error "
                     "ended with:\n  | ringlab replay: --queues: '0' is not a whole number in 1..256\n(output in " +
                     dir + "/check)\n");
    fs::remove_all(fs::path(dir) / "check");
  }
  put(bt, text);
  // bundle.txt cut at a line boundary: blamed on bundle.txt, at its last line.
  std::string cut;
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) cut += lines[i] + "\n";
  put(bt, cut);
  expect(bt.string() + ":" + std::to_string(lines.size() - 2) + ": cut short: no 'final' line (record ends bundle.txt with it)");
  // A checkpoint line removed.
  std::string holed;
  int events_line = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].starts_with("events ")) events_line = static_cast<int>(i) + 1;
    if (!(lines[i].starts_with("checkpoint ") && i + 2 == lines.size())) holed += lines[i] + "\n";
  }
  put(bt, holed);
  expect(bt.string() + ":" + std::to_string(events_line) + ": " + std::to_string(events.size() / 16) + " events every 20 make " +
         std::to_string(events.size() / 16 / 20) + " checkpoints, the file has " + std::to_string(events.size() / 16 / 20 - 1));
  // Garbage: its bytes escaped and cut, never echoed raw.
  static const char elf[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0\x10\x11\0\0\0\0\0\0@\0\0\0\0\0\0\0\xe8\xa2\x01\0";
  put(bt, std::string(elf, sizeof elf - 1) + "\nmore\n");
  expect(bt.string() + ":1: not a repro bundle (first line '\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
                       "\\x03\\x00>\\x00\\x01\\x00\\x00\\x00\\x10\\x11\\x00\\x00\\x00\\x00\\x00\\x00@\\x00\\x00\\x00\\x00\\x00\\x00\\x00... (" +
         std::to_string(sizeof elf - 1) + " bytes)')");
  put(bt, "");
  expect(bt.string() + " is empty");
  // The command edited into one that does not reproduce.
  std::string kernel = text;
  kernel.replace(kernel.find("\narg replay\n"), 12, "\narg rings\n");
  put(bt, kernel);
  expect(bt.string() + ": 'rings' is not a sim command: replay, demo, mcast-recv, trace replay and tcp-echo client --backend sim are");
  // The seed line edited (7 -> 8) while the command still says 7.
  std::string edited = text;
  edited.replace(edited.find("\nseed 7\n"), 8, "\nseed 8\n");
  put(bt, edited);
  int seed_line = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i] == "seed 7") seed_line = static_cast<int>(i) + 1;
  expect(bt.string() + ":" + std::to_string(seed_line) + ": seed 8 is not the command's (7): the bundle was edited or damaged");
  put(bt, text);
  const auto ok = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  fs::remove_all(dir);
}

TEST(repro, the_build_line_names_the_sanitizer_and_the_planted_bugs) {
  const std::string dir = temp("build");
  fs::remove_all(dir);
  ASSERT_EQ(record(dir, tcp_cmd("drop=0.01", "1")).exit_code, 0);
  std::string build;
  for (const auto& l : ringlab::test::lines_of(slurp(fs::path(dir) / "bundle.txt")))
    if (l.starts_with("build ")) build = l.substr(6);
  // This suite's binaries never carry a planted bug (tests/netsim/planted links its own copy).
  const std::string san = RINGLAB_TEST_SANITIZER;
  EXPECT_NE(build.find(", sanitizer " + (san.empty() ? std::string("none") : san) + ", planted bugs none, "), std::string::npos)
      << build;
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_NE(c.out.find(", " + build + "\n  checked on  "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("\n  checked on  "), std::string::npos);
  fs::remove_all(dir);
}

// Recorded once (see golden/README.md) and committed: this build, whichever it is (default, ASan,
// release, another machine), must give the same events. The bundle's working directory is the
// checkout it was recorded in; the copy here points it at this checkout.
// Two: the UDP path (demo over a malformed trace, every fault kind) and TCP (tcp-echo over sim's
// wire, every fault kind: retransmissions, out-of-window duplicates, a corrupted frame).
class committed_bundle : public ::testing::TestWithParam<const char*> {};

TEST_P(committed_bundle, reproduces_on_this_build) {
  const fs::path src = source_file(std::string("tests/unit/repro/") + GetParam());
  const std::string dir = temp(GetParam());
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(src / "events.bin", fs::path(dir) / "events.bin");
  std::istringstream in(slurp(src / "bundle.txt"));
  std::ofstream out(fs::path(dir) / "bundle.txt");
  for (std::string l; std::getline(in, l);) out << (l.starts_with("cwd ") ? "cwd " + source_file("") : l) << "\n";
  out.close();
  const auto c = run_ringlab({"repro", "check", dir});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err
                            << "\nIf the event path changed on purpose, re-record it (golden/README.md).";
  EXPECT_NE(c.out.find("\nSAME: "), std::string::npos) << c.out;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(repro, committed_bundle, ::testing::Values("golden", "golden_tcp"));

TEST(repro, help_lists_it_and_its_help_ends_with_the_exit_codes) {
  const auto h = run_ringlab({"help"});
  EXPECT_NE(h.out.find("\n  repro "), std::string::npos) << h.out;
  const auto r = run_ringlab({"repro", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: ringlab repro record [--out DIR] [--every N] [--force] [--allow-failure] -- COMMAND [ARGS...]\n"
                       "       ringlab repro check [--cwd DIR] BUNDLE\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("exit status (every command):"), std::string::npos) << r.out;
}
