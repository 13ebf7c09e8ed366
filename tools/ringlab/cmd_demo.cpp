// ringlab demo: the whole bypass path in one run. A market-data trace is replayed through the
// simulated NIC (RSS over --queues RX rings of type --ring, optional seeded faults), each queue feeds
// its own user-space stack on its own io_context (share-nothing), and the SAME templated multicast
// receiver that `ringlab mcast-recv` runs over kernel sockets (tools/mcast/app.hpp) runs over
// ringlab::bypass::udp::socket. It prints per-group counts, loss and reordering from the sequence
// numbers, drops by reason, and the frame pool's balance (0 out: no frame leaked). Then its TCP part:
// the tcp-echo app over bypass::tcp sockets between two sim hosts with a little loss (tcp_part()).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "port/fault_line.hpp"
#include "trace/trace.hpp"
#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "tools/mcast/app.hpp"
#include "tools/mcast/bypass_host.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/device_flags.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "tools/tcp_apps/echo.hpp"
#include "tools/tcp_apps/sim_pair.hpp"

namespace {
using namespace ringlab;

const std::vector<cli::option> opts = cli::with_device_flags({
    {"replay", "FILE", "pcap to replay (default: traces/mcast-feed.pcap from the current directory or "
                      "$RINGLAB_SOURCE_DIR, else the same 12000 frames generated in memory from its recipe)"},
    {"ring", "NAME", "RX descriptor ring design (rings/ registry name)", "spsc"},
    {"queues", "N", "RX queues: one stack + io_context each, RSS spreads the groups", "2"},
    {"seed", "N", "seed for the faults (--faults seed=N too: both given must agree) and the stack: same seed, same output", "1"},
    {"event-hash", "", "trace every hop and print the FNV-1a hash of all events"},
    {"tcp-bytes", "SIZE", "the TCP part: bytes tcp-echo sends and reads back over two sim hosts with 1% loss "
                          "each way (0: no TCP part; with --replay the default is 0)", "1048576"},
});

// The TCP part: `ringlab tcp-echo client --backend sim` in small: the same echo app (tools/tcp_apps)
// over bypass::tcp sockets on two sim hosts joined by sim_nic's wire, a little seeded loss each way.
// Prints the bytes, whether the sha256 of what went out equals that of what came back, and the lanes'
// nonzero nstat counters (retransmissions and recoveries show the loss being repaired). true: exact.
bool tcp_part(std::uint64_t bytes, std::uint64_t seed) {
  namespace ta = ringlab::tcp_apps;
  ta::sim_pair_config pc;
  pc.faults = port::fault_spec{.drop = 0.01};
  pc.seed = seed;
  ta::sim_pair pair(pc);
  const asio::ip::address_v4 server_ip(ta::sim_pair::server_ip.value);
  bypass::tcp::acceptor acc(pair.server_ctx());
  if (auto err = ta::open_listener(acc, {server_ip, 7007}); !err.empty()) throw std::runtime_error("demo tcp: " + err);
  std::string server_sha;
  ta::echo_server<bypass::tcp::acceptor, bypass::tcp::socket> server(acc, 1, [&](const ta::echo_result& r) {
    server_sha = r.ok() ? r.received_sha.hex() : "failed: " + ta::failure_text(r);
  });
  ta::echo_client<bypass::tcp::socket> client(pair.client_ctx(), {.remote = {server_ip, 7007}, .bytes = bytes, .seed = seed});
  server.start();
  client.start();
  const auto st = pair.run([&] { return client.done() && server.done(); }, 600 * stack::sec);
  const auto& r = *client.results()[0];
  const std::string sent = r.sent_sha.hex(), back = r.received_sha.hex();
  std::printf("\n  TCP: tcp-echo over the bypass path: 10.0.0.1 -> 10.0.0.2, two sim hosts on sim_nic's wire, 1%% loss "
              "each way\n");
  std::printf("    %" PRIu64 " bytes sent, %" PRIu64 " echoed back in %.3f s of virtual time: %s\n", r.sent, r.received,
              static_cast<double>(st.elapsed_ns) / 1e9, r.ok() ? "byte-exact" : ta::failure_text(r).c_str());
  std::printf("    sha256 sent %s\n           back %s (%s)\n", sent.c_str(), back.c_str(),
              sent == back && server_sha == sent ? "match, and the server hashed the same" : "MISMATCH");
  std::printf("    wire dropped %" PRIu64 " of %" PRIu64 " frames a->b, %" PRIu64 " of %" PRIu64
              " b->a (data and ACKs alike: the next ACK covers a lost one, a lost data segment is sent again "
              "and counts in RetransSegs)\n",
              pair.wire_a_to_b().dropped, pair.wire_a_to_b().in, pair.wire_b_to_a().dropped, pair.wire_b_to_a().in);
  auto nonzero = [](const char* who, const stack::tcp_lane_counters& c) {
    std::printf("    %s nstat:", who);
    int k = 0;
    for (const auto& n : stack::tcp_counter_names)
      if (c.*n.field) std::printf("%s %s=%" PRIu64, k++ % 4 == 0 && k > 1 ? "\n         " : "", n.name, c.*n.field);
    std::printf("\n");
  };
  nonzero("client", pair.client().iface().tcp_counters());
  nonzero("server", pair.server().iface().tcp_counters());
  pair.run({}, pair.now() - pair.start_ns() + 300 * stack::sec);   // FIN, TIME_WAIT: every frame home
  const auto out = pair.frames_out();
  std::printf("    frame pools: %u out after the run (%s)\n", out, out == 0 ? "balanced" : "LEAK");
  return r.ok() && sent == back && server_sha == sent && out == 0;
}

struct group_key {
  std::uint32_t addr;
  std::uint16_t port;
  auto operator<=>(const group_key&) const = default;
};

// Where the trace sends UDP/IPv4, read through stack/wire's views: the multicast (group, port) pairs
// the demo joins, and every other destination with its datagram count (to say why nothing was
// delivered when a trace has no multicast).
struct udp_destinations {
  std::vector<group_key> groups;                    // multicast, in address order
  std::map<group_key, std::uint64_t> other;         // unicast and broadcast: datagrams per address:port
  std::uint64_t datagrams = 0;                      // UDP/IPv4 datagrams in all
  std::uint64_t tcp_segments = 0;                   // TCP/IPv4 segments: the demo has no TCP receiver
  std::set<std::uint16_t> tcp_syn_ports;            // ports a SYN (without ACK) goes to: a listener's
  std::map<std::uint16_t, std::uint64_t> tcp_to;    // segments per destination port
  // The port to listen on: of the ports a SYN opens, the one most segments go to (a lone SYN to a
  // closed port, there to be refused, is not the conversation). 0: no SYN in the trace.
  std::uint16_t tcp_listen_port() const {
    std::uint16_t best = 0;
    for (std::uint16_t p : tcp_syn_ports)
      if (!best || tcp_to.at(p) > tcp_to.at(best)) best = p;
    return best;
  }
};

// One frame's part in udp_destinations (the demo reads every frame of the trace once, before replaying it).
void add_frame(udp_destinations& d, std::map<group_key, int>& seen, std::span<const std::byte> frame) {
  const auto e = wire::ethernet::view::check(frame);
  if (!e || e->type() != wire::ethernet::ethertype::ipv4) return;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (ip && ip->proto() == wire::tcp::ip_protocol && !ip->is_fragment())
    if (const auto t = wire::tcp::view::check(ip->payload())) {
      ++d.tcp_segments;
      ++d.tcp_to[t->dst_port()];
      if (t->has(wire::tcp::flag::syn) && !t->has(wire::tcp::flag::ack)) d.tcp_syn_ports.insert(t->dst_port());
    }
  if (!ip || ip->proto() != wire::udp::ip_protocol) return;
  const auto u = wire::udp::view::check(ip->payload());
  if (!u) return;
  ++d.datagrams;
  const group_key k{ip->dst().value, u->dst_port()};
  if (ip->dst().is_multicast()) seen[k]++;
  else ++d.other[k];
}

// for_each(fn) calls fn(bytes) for every frame of the trace.
template <class ForEach>
udp_destinations destinations_in(ForEach&& for_each) {
  udp_destinations d;
  std::map<group_key, int> seen;
  for_each([&](std::span<const std::byte> frame) { add_frame(d, seen, frame); });
  for (auto& [k, n] : seen) d.groups.push_back(k);
  return d;
}

// Said in place of the receivers' table when the trace gives them nothing to join: what the demo
// listens on, what the trace carries instead, and what to pass.
void explain_no_groups(const udp_destinations& d, std::size_t frames, const std::string& source) {
  std::printf("  no receiver: the demo joins the multicast (group, port) pairs a trace sends UDP to (224.0.0.0/4),\n"
              "  and %s has none: ", source.c_str());
  if (d.datagrams == 0) {
    std::printf("its %zu frames hold no UDP/IPv4 datagram\n", frames);
  } else {
    std::vector<std::pair<std::uint64_t, group_key>> by_count;
    for (const auto& [k, n] : d.other) by_count.push_back({n, k});
    std::stable_sort(by_count.begin(), by_count.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    std::printf("its %" PRIu64 " UDP datagrams go to", d.datagrams);
    const std::size_t shown = std::min<std::size_t>(by_count.size(), 3);
    for (std::size_t i = 0; i < shown; ++i)
      std::printf("%s %s:%u (%" PRIu64 ")", i ? "," : "", mcast::ipv4_to_string(by_count[i].second.addr).c_str(),
                  by_count[i].second.port, by_count[i].first);
    if (by_count.size() > shown)
      std::printf(" and %zu more destination%s", by_count.size() - shown, by_count.size() - shown == 1 ? "" : "s");
    std::printf("\n");
  }
  std::printf("  pass a multicast feed (--replay traces/mcast-feed.pcap, or one from ringlab gen-trace --kind "
              "mcast-feed),\n  or follow this trace's %s hop by hop: ringlab trace replay %s",
              d.tcp_segments ? "TCP segments" : "datagrams", source.c_str());
  // TCP segments reach a connection only through a listener: without --tcp-listen every SYN finds
  // no socket and is answered with RST, which is not what the trace is about.
  if (const std::uint16_t p = d.tcp_listen_port()) std::printf(" --tcp-listen %u", p);
  else if (d.tcp_segments) std::printf(" --tcp-listen PORT");
  std::printf("\n");
}

std::string default_trace_path() {
  std::vector<std::filesystem::path> where{"traces/mcast-feed.pcap"};
  if (const char* src = std::getenv("RINGLAB_SOURCE_DIR")) where.push_back(std::filesystem::path(src) / "traces/mcast-feed.pcap");
  for (const auto& p : where)
    if (std::filesystem::exists(p)) return p.string();
  return {};
}

// One RX queue: its io_context, its stack (bypass_service) and one receiver app per group.
struct lane {
  asio::io_context ctx{1};
  bypass::bypass_service* svc = nullptr;
  std::vector<std::unique_ptr<bypass::udp::socket>> sockets;
  std::vector<std::unique_ptr<mcast::receiver<bypass::udp::socket>>> apps;
};

int run(int argc, char** argv) {
  cli::args a("demo", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("demo", "[--replay FILE] [--queues N] [--ring NAME] [--faults SPEC] [--tap FILE] [--trace] [--seed S] [--event-hash] [--tcp-bytes SIZE]",
                               "Replays a market-data feed through sim_nic -> RX rings -> user-space stack ->\n"
                               "bypass UDP sockets under Asio, and reports what the receivers saw. The feed is\n"
                               "traces/mcast-feed.pcap (found in the current directory or $RINGLAB_SOURCE_DIR);\n"
                               "run elsewhere, the same 12000 frames are generated in memory from the file's\n"
                               "recipe, and the first line of the report says which one ran. A --replay file is\n"
                               "streamed, read once for its groups and once to replay (memory flat whatever its\n"
                               "size): a record that cannot be read stops the demo before it runs (exit 2),\n"
                               "naming the file, packet number and byte offset. --faults, --tap\n"
                               "and --trace wrap every queue (faults, tap, trace from the NIC up). Then the TCP\n"
                               "part: tcp-echo moves --tcp-bytes over the bypass TCP path between two sim hosts\n"
                               "with 1% loss each way and prints the sha256 match and the lanes' nstat counters.\n"
                               "Exit 1 when a frame leaked, the --tap file could not be written, or the TCP echo\n"
                               "was not byte-exact.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  const auto queues = static_cast<std::uint16_t>(a.u64("queues", 1, 16));
  const std::uint64_t seed = a.u64("seed");
  // With --replay the user's trace is the subject: no TCP part unless --tcp-bytes asks for one (and a
  // repro bundle of `demo --replay FILE` records that trace's events, not a TCP echo's).
  const std::uint64_t tcp_bytes =
      a.has("replay") && !a.has("tcp-bytes") ? 0 : a.u64("tcp-bytes", 0, std::uint64_t{1} << 30);
  const bool event_hash = a.has("event-hash");

  // The trace: a file, streamed as `ringlab replay` streams it (tools/ringlab/trace_file.hpp: memory
  // flat whatever its size), or the bundled feed's recipe run in memory (12000 frames: nothing to stream).
  // The file is read once first for the groups to join, then replayed: a record that cannot be read
  // stops the demo before anything ran (exit 2), naming the file, the packet and the byte offset.
  std::string path = a.has("replay") ? a.str("replay") : default_trace_path();
  std::optional<sim::pcap_stream> stream;
  sim::pcap_trace trace;
  std::string source;
  udp_destinations dests;
  if (!path.empty()) {
    stream.emplace(cli::open_trace_stream(path, "--replay: "));
    dests = destinations_in([&](auto&& fn) {
      if (!stream->scan([&](const sim::trace_record&, std::span<const std::byte> b) { fn(b); }))
        throw cli::usage_error{"--replay: " + stream->scan_error()};
    });
    source = path;
  } else {
    auto pk = gen_trace::generate(gen_trace::mcast_feed_recipe());
    std::vector<std::vector<std::byte>> frames;
    std::vector<std::uint64_t> ts;
    for (auto& p : pk) frames.push_back(std::move(p.bytes)), ts.push_back(p.t_ns);
    trace = sim::pcap_trace::from_frames(frames, ts);
    dests = destinations_in([&](auto&& fn) {
      for (const auto& r : trace.records()) fn(trace.bytes(r));
    });
    source = "traces/mcast-feed.pcap not found here (nor under $RINGLAB_SOURCE_DIR): the same feed generated "
             "in memory from its recipe (gen-trace --kind mcast-feed --groups 4 --count 12000 --size 32 "
             "--pps 100000 --seed 1)";
  }

  bypass::device_options d;
  d.backend = "sim";
  d.queues = queues;
  d.trace = &trace;
  d.stream = stream ? &*stream : nullptr;
  d.sim.ring = a.str("ring");
  d.sim.seed = seed;
  d.sim.pool = {.frames = 2048, .frame_size = 2048, .headroom = 256};
  cli::apply_device_flags(a, d, seed);   // --faults, --tap, --trace: decorators on every queue
  std::shared_ptr<bypass::AsioService> svc;
  try {
    svc = mcast::open_backend(d, "demo");
  } catch (const std::runtime_error& e) {
    throw cli::usage_error{e.what()};
  }
  bypass::device* dev = svc->bypass_device();
  auto* nic = dev->sim_nic();
  // Before the stacks attach: their IGMP joins go out just before the first frame, on the trace's
  // time line (not at virtual time 0: a --tap pcap starting in 1970).
  cli::start_virtual_clock(*dev);

  if (event_hash) {
    trace::enable(true);
    (void)trace::drain();
  }
  const auto& groups = dests.groups;
  std::vector<std::unique_ptr<lane>> lanes;
  for (std::uint16_t q = 0; q < queues; ++q) {
    auto l = std::make_unique<lane>();
    l->svc = &asio::use_service<bypass::bypass_service>(l->ctx);
    bypass::lane_config c;
    c.iface.mac = gen_trace::host_mac;
    c.iface.addr = gen_trace::host_ip;
    c.iface.seed = seed;
    c.iface.socket_queue_depth = 1024;
    c.drive = bypass::drive_mode::manual;   // one thread drives all queues in turn: deterministic
    c.clock = dev->clock();
    if (auto ec = l->svc->attach(dev->queue(q), c)) throw std::system_error(ec, "attach");
    for (const auto& g : groups) {
      auto s = std::make_unique<bypass::udp::socket>(l->ctx);
      s->bind(asio::ip::udp::endpoint(asio::ip::udp::v4(), g.port));
      s->join_group(asio::ip::address_v4(g.addr));
      auto app = std::make_unique<mcast::receiver<bypass::udp::socket>>(*s, mcast::sequence_tracker(0));
      app->start([](const mcast::message&) { return true; }, [](std::string_view e) {
        std::fprintf(stderr, "ringlab demo: receive error: %.*s\n", static_cast<int>(e.size()), e.data());
      });
      l->sockets.push_back(std::move(s));
      l->apps.push_back(std::move(app));
    }
    lanes.push_back(std::move(l));
  }

  // The loop (sim_nic/event_loop.hpp): the virtual clock jumps to the next frame or the next stack
  // timer, whichever is first; a burst of frames in, then each queue polls its stack and runs its handlers.
  mcast::run_replay(*nic, lanes, 32, 60 * stack::sec);

  // Report.
  std::printf("ringlab demo: %s\n", source.c_str());
  std::printf("  path: pcap -> sim_nic (%u queue%s, RSS, ring '%s'%s) -> user-space stack per queue -> "
              "bypass::udp::socket -> mcast::receiver (the same app as `mcast-recv --backend kernel` over kernel sockets)\n",
              queues, queues == 1 ? "" : "s", a.str("ring").c_str(), a.has("faults") ? ", faults on" : "");
  const std::uint64_t frames = nic->counters().trace_frames;
  std::printf("  %" PRIu64 " frames replayed, %zu groups; seq numbers tell loss / reordering per group\n\n", frames,
              groups.size());
  if (groups.empty()) explain_no_groups(dests, frames, path.empty() ? "the feed" : path);
  else
    std::printf("  %-16s %5s %9s %9s %7s %9s %7s %7s\n", "group", "queue", "received", "unique", "lost", "reordered",
                "dups", "stale");
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    mcast::sequence_stats sum;
    int queue = -1;
    for (std::uint16_t q = 0; q < queues; ++q) {
      const auto s = lanes[q]->apps[gi]->stats().seq;
      if (s.received == 0) continue;
      queue = queue < 0 ? q : 99;   // 99: a group seen on several queues (RSS keeps a flow on one)
      sum.received += s.received, sum.unique += s.unique, sum.lost += s.lost, sum.reordered += s.reordered;
      sum.duplicates += s.duplicates, sum.stale += s.stale;
    }
    const std::string name = mcast::ipv4_to_string(groups[gi].addr) + ":" + std::to_string(groups[gi].port);
    std::printf("  %-16s %5d %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 "\n",
                name.c_str(), queue, sum.received, sum.unique, sum.lost, sum.reordered, sum.duplicates, sum.stale);
  }

  std::array<std::uint64_t, static_cast<std::size_t>(trace::drop_reason::count_)> drops{};
  std::uint64_t rx = 0, delivered = 0;
  for (auto& l : lanes) {
    const auto& c = l->svc->iface().counters();
    rx += c.rx_frames, delivered += c.udp_delivered;
    for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += c.drops[i];
  }
  const auto k = nic->counters();
  std::printf("\n  stack: %" PRIu64 " frames in, %" PRIu64 " datagrams delivered to sockets\n", rx, delivered);
  std::printf("  drops by reason:");
  bool any = false;
  for (std::size_t i = 0; i < drops.size(); ++i)
    if (drops[i]) {
      const auto r = trace::to_string(static_cast<trace::drop_reason>(i));
      std::printf(" %.*s=%" PRIu64, static_cast<int>(r.size()), r.data(), drops[i]);
      any = true;
    }
  std::printf("%s\n", any ? "" : " none");
  std::printf("  nic: imissed=%" PRIu64 " rx_nombuf=%" PRIu64 " ierrors=%" PRIu64, k.total.imissed, k.total.rx_nombuf,
              k.ierrors());
  const auto deco = dev->decorators();
  if (const auto& f = deco.rx_faults; f.in)
    std::printf("; faults: dropped=%" PRIu64 " duplicated=%" PRIu64 " reordered=%" PRIu64 " corrupted=%" PRIu64,
                f.dropped, f.duplicated, f.reordered, f.corrupted);
  std::printf("\n");

  // Sockets close, stacks go: every frame back to the pool. Before the events are taken: a closing
  // socket's IGMP leave is part of the run, and a trace that stopped at the joins hid it.
  lanes.clear();
  std::uint64_t hash = 0;
  std::vector<trace::event> ev;
  if (event_hash || d.trace_hops) {
    ev = trace::drain();
    trace::enable(false);
  }
  if (event_hash) {
    hash = trace::hash(ev);
    std::printf("  event hash: %016" PRIx64 " (%zu events)\n", hash, ev.size());
  }
  nic->return_cache();
  std::fflush(stdout);   // the tap's line counts the leaves the closing sockets sent
  (void)cli::report_device_flags(stdout, "  demo", *dev, d, &ev);
  const auto out = nic->pool().out();
  std::printf("  frame pool: %u out after the run (%s)\n", out, out == 0 ? "balanced" : "LEAK");
  const bool tcp_ok = tcp_bytes == 0 || tcp_part(tcp_bytes, seed);
  std::fflush(stdout);
  return cli::finish_run("demo", out == 0 && tcp_ok ? cli::exit_ok : cli::exit_failure, *dev, d);
}

const cli::registration reg{{"demo", "replay a market-data feed through sim_nic + stack + bypass Asio sockets", run}};
}  // namespace
