#pragma once
// iperf3::sim_self_test: `ringlab iperf3-server --backend sim --self-test`. Stock iperf3 cannot join a
// simulated wire, so our own protocol client (client.hpp: cookie, parameters, P data connections,
// TEST_END, results exchange, IPERF_DONE) runs against the server (server.hpp) over two simulated
// hosts in this process (tools/tcp_apps/sim_pair: sim_nic, wire, the user-space stack on both ends),
// on virtual time. The same server code as on AF_XDP, DPDK and kernel sockets.
//
// The two ends' counts must agree, exactly: what the server reported per stream (its test_report) is
// what the client read in the results JSON; without -R also what the client sent (the client ends the
// test only once the server counted every byte: then the count is known); with -R the client received
// its target and no more than the server says it sent.
//
// lanes > 1: host B is N lanes (tcp_lanes over sim_nic B's N queues), a server on each sharing one
// test_registry (`--lanes N`, server.hpp); one thread drives them, so the owner calls each server's
// check() between rounds (no flag timer: virtual time). Also checked: each stream was served on the
// lane sim_nic's RSS (Toeplitz + RETA) gives its 4-tuple, and the per-lane counts.
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asio_bypass/rss_steering.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "tools/iperf3/client.hpp"
#include "tools/iperf3/protocol.hpp"
#include "tools/iperf3/server.hpp"
#include "tools/iperf3/test_registry.hpp"
#include "tools/tcp_apps/lane_apps.hpp"
#include "tools/tcp_apps/sim_pair.hpp"

namespace ringlab::iperf3 {

struct self_test_options {
  bool reverse = false;
  std::uint32_t parallel = 1;
  std::uint32_t len = 128 * 1024;
  std::uint64_t bytes_per_stream = 4 << 20;
  std::uint64_t seed = 1;
  std::uint16_t port = 5201;
  std::uint16_t lanes = 1;   // host B's lanes (a server on each, one registry)
};

struct self_test_result {
  client_report client;
  std::optional<test_report> server;
  std::optional<std::vector<stream_result>> client_saw;   // the server's results as the client parsed them
  double virtual_s = 0;
  std::vector<std::uint64_t> lane_bytes;   // lanes > 1: the bytes the streams of each lane counted
  std::string error;   // "" when both ends agree
};

inline self_test_result sim_self_test(const self_test_options& o) {
  using bsock = bypass::tcp::socket;
  using bacc = bypass::tcp::acceptor;
  self_test_result out;
  tcp_apps::sim_pair_config pc;
  pc.seed = o.seed;
  pc.server_lanes = o.lanes;
  tcp_apps::sim_pair pair(pc);
  const asio::ip::tcp::endpoint at(asio::ip::address_v4(tcp_apps::sim_pair::server_ip.value), o.port);
  using srv_t = server<bacc, bsock>;
  test_registry registry;
  auto hooks = [&](std::size_t lane) {
    return typename srv_t::hooks{.retransmits = [](bsock& s) {
                                   return s.native() ? static_cast<std::int64_t>(s.native()->counters().retrans_segs) : -1;
                                 },
                                 .now_s = [&pair] { return static_cast<double>(pair.now() - pair.start_ns()) / 1e9; },
                                 .on_test_end = [&out](const test_report& r) { out.server = r; },
                                 .log = {},
                                 .grace_s = 0,
                                 .registry = o.lanes > 1 ? &registry : nullptr,
                                 .lane = lane,
                                 .flag_period_s = 0};
  };
  // One lane: the acceptor form, as on kernel sockets. N lanes: a server per lane, fed by its listener.
  std::unique_ptr<bacc> acc;
  std::unique_ptr<srv_t> srv;
  std::unique_ptr<tcp_apps::lane_apps<srv_t>> lane_srv;
  if (o.lanes == 1) {
    acc = std::make_unique<bacc>(pair.server_ctx(), asio::ip::tcp::endpoint(asio::ip::tcp::v4(), o.port));
    srv = std::make_unique<srv_t>(*acc, hooks(0));
    srv->start();
  } else {
    lane_srv = std::make_unique<tcp_apps::lane_apps<srv_t>>(
        pair.lanes(), [&](std::size_t q) { return std::make_unique<srv_t>(pair.lanes().context(q).get_executor(), hooks(q)); });
    if (auto ec = lane_srv->listen(asio::ip::tcp::endpoint(asio::ip::tcp::v4(), o.port))) {
      out.error = "listen: " + ec.message();
      return out;
    }
  }
  const auto counted = [&] { return srv ? srv->counted() : registry.counted(); };
  // The lanes' flags (no timer on virtual time): every server's check(), then what it made ready.
  const auto check_lanes = [&] {
    bool did = false;
    for (std::size_t q = 0; lane_srv && q < lane_srv->size(); ++q) did = (*lane_srv)[q].check() || did;
    return did;
  };
  using cli_t = client<bsock, asio::ip::tcp::endpoint>;
  typename cli_t::options co;
  co.params.reverse = o.reverse;
  co.params.parallel = o.parallel;
  co.params.len = o.len;
  co.params.time = 0;
  co.bytes_per_stream = o.bytes_per_stream;
  co.cookie_seed = o.seed;
  const std::uint64_t total = o.bytes_per_stream * o.parallel;
  // Without -R the client sends TEST_END once the server counted every byte (checked between the
  // pair's rounds, as the wire moves): then the server's count is exactly what was sent.
  std::function<void()> end_now;
  if (!o.reverse) co.hold_end = [&end_now](std::function<void()> f) { end_now = std::move(f); };
  cli_t c([&pair] { return std::make_unique<bsock>(pair.client_ctx()); }, at, co);
  c.start();
  const auto done = [&] {
    check_lanes();
    if (end_now && counted() == total) std::exchange(end_now, {})();
    return c.finished() && out.server.has_value();
  };
  auto st = pair.run(done, 600 * stack::sec);
  // Idle with a flag not yet acted on (the last round's check() made work no round has run): again.
  while (st.ended == tcp_apps::sim_end::idle && lane_srv) {
    bool more = check_lanes();
    for (std::size_t q = 0; q < pair.lanes().size(); ++q) more = pair.lanes().context(q).poll() > 0 || more;
    more = pair.client_ctx().poll() > 0 || more;
    if (!more) break;
    st = pair.run(done, 600 * stack::sec);
  }
  out.virtual_s = static_cast<double>(st.elapsed_ns) / 1e9;
  out.client = c.report();
  for (std::size_t q = 0; lane_srv && q < lane_srv->size(); ++q) (*lane_srv)[q].check();   // the streams see `stop`
  srv.reset();
  acc.reset();
  lane_srv.reset();
  pair.run({}, pair.now() - pair.start_ns() + 300 * stack::sec);   // the closes finish
  auto fail = [&out](std::string why) {
    if (out.error.empty()) out.error = std::move(why);
    return out;
  };
  if (st.ended != tcp_apps::sim_end::done)
    return fail(std::string("the run ended (") + tcp_apps::to_string(st.ended) + ") before the test did");
  if (!out.client.error.empty()) return fail("client: " + out.client.error);
  if (!out.server->completed) return fail("server: " + out.server->error);
  std::string why;
  auto res = parse_results(out.client.results, &why);
  if (!res) return fail("the server's results: " + why);
  out.client_saw = res->streams;
  const auto& mine = out.server->streams;
  if (res->streams.size() != mine.size() || mine.size() != o.parallel || out.client.bytes.size() != o.parallel)
    return fail("stream counts differ: server " + std::to_string(mine.size()) + ", its results " +
                std::to_string(res->streams.size()) + ", client " + std::to_string(out.client.bytes.size()));
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const std::string s = "stream " + std::to_string(mine[i].id) + ": ";
    if (res->streams[i].id != mine[i].id || res->streams[i].bytes != mine[i].bytes)
      return fail(s + "the client read " + std::to_string(res->streams[i].bytes) + " bytes in the results, the server counted " +
                  std::to_string(mine[i].bytes));
    if (!o.reverse && out.client.bytes[i] != mine[i].bytes)
      return fail(s + "the client sent " + std::to_string(out.client.bytes[i]) + " bytes, the server counted " +
                  std::to_string(mine[i].bytes));
    if (o.reverse && (out.client.bytes[i] < o.bytes_per_stream || out.client.bytes[i] > mine[i].bytes))
      return fail(s + "the client received " + std::to_string(out.client.bytes[i]) + " bytes, the server sent " +
                  std::to_string(mine[i].bytes));
  }
  if (o.lanes > 1) {
    // Each stream on the lane RSS gives its 4-tuple (segments from the client's port to ours).
    const auto& r = *out.server;
    if (r.stream_lanes.size() != o.parallel || r.stream_ports.size() != o.parallel)
      return fail("the server recorded " + std::to_string(r.stream_lanes.size()) + " streams' lanes");
    const auto rss = bypass::rss_steering::of(pair.server_nic());
    out.lane_bytes.assign(o.lanes, 0);
    for (std::size_t i = 0; i < o.parallel; ++i) {
      const std::uint16_t want = rss.queue_of({tcp_apps::sim_pair::server_ip, o.port},
                                              {tcp_apps::sim_pair::client_ip, r.stream_ports[i]});
      if (r.stream_lanes[i] != want)
        return fail("stream " + std::to_string(mine[i].id) + " (client port " + std::to_string(r.stream_ports[i]) +
                    ") was served on lane " + std::to_string(r.stream_lanes[i]) + "; RSS gives lane " + std::to_string(want));
      out.lane_bytes[want] += mine[i].bytes;
    }
  }
  if (const auto left = pair.frames_out()) return fail(std::to_string(left) + " pool frames not returned (a leak)");
  return out;
}

}  // namespace ringlab::iperf3
