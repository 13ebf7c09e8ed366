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
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "tools/iperf3/client.hpp"
#include "tools/iperf3/protocol.hpp"
#include "tools/iperf3/server.hpp"
#include "tools/tcp_apps/sim_pair.hpp"

namespace ringlab::iperf3 {

struct self_test_options {
  bool reverse = false;
  std::uint32_t parallel = 1;
  std::uint32_t len = 128 * 1024;
  std::uint64_t bytes_per_stream = 4 << 20;
  std::uint64_t seed = 1;
  std::uint16_t port = 5201;
};

struct self_test_result {
  client_report client;
  std::optional<test_report> server;
  std::optional<std::vector<stream_result>> client_saw;   // the server's results as the client parsed them
  double virtual_s = 0;
  std::string error;   // "" when both ends agree
};

inline self_test_result sim_self_test(const self_test_options& o) {
  using bsock = bypass::tcp::socket;
  using bacc = bypass::tcp::acceptor;
  self_test_result out;
  tcp_apps::sim_pair_config pc;
  pc.seed = o.seed;
  tcp_apps::sim_pair pair(pc);
  const asio::ip::tcp::endpoint at(asio::ip::address_v4(tcp_apps::sim_pair::server_ip.value), o.port);
  auto acc = std::make_unique<bacc>(pair.server_ctx(), asio::ip::tcp::endpoint(asio::ip::tcp::v4(), o.port));
  using srv_t = server<bacc, bsock>;
  auto srv = std::make_unique<srv_t>(
      *acc, srv_t::hooks{.retransmits = [](bsock& s) {
                           return s.native() ? static_cast<std::int64_t>(s.native()->counters().retrans_segs) : -1;
                         },
                         .now_s = [&pair] { return static_cast<double>(pair.now() - pair.start_ns()) / 1e9; },
                         .on_test_end = [&out](const test_report& r) { out.server = r; },
                         .log = {},
                         .grace_s = 0});
  srv->start();
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
  const auto st = pair.run(
      [&] {
        if (end_now && srv->counted() == total) std::exchange(end_now, {})();
        return c.finished() && out.server.has_value();
      },
      600 * stack::sec);
  out.virtual_s = static_cast<double>(st.elapsed_ns) / 1e9;
  out.client = c.report();
  srv.reset();
  acc.reset();
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
  if (const auto left = pair.frames_out()) return fail(std::to_string(left) + " pool frames not returned (a leak)");
  return out;
}

}  // namespace ringlab::iperf3
