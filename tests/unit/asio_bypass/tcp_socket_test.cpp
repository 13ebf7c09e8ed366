// bypass::tcp::socket and acceptor: two bypass io_contexts on two test ports back to back (what one
// sends is moved to the other's RX, as two hosts on a wire), driven by hand on a virtual clock.
// Asio's contract as asio::ip::tcp keeps it: exact bytes through asio::async_read / async_write /
// async_read_until, both accept forms, half-close each way, RST (linger 0) -> connection_reset on the
// peer, a closed port -> connection_refused, cancel / close / the cancellation slot ->
// operation_aborted, callbacks, use_future and use_awaitable; options and available().
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "tests/unit/stack/test_port.hpp"
#include "tests/unit/tcp/harness.hpp"   // pattern()

using namespace ringlab;
using namespace ringlab::stack::testing;
using ringlab::tcp::testing::pattern;
using atcp = asio::ip::tcp;
using bsock = bypass::tcp::socket;
using bacc = bypass::tcp::acceptor;

namespace {

const wire::mac_addr a_mac{0x02, 0, 0, 0, 0, 0x0a}, b_mac{0x02, 0, 0, 0, 0, 0x0b};
const wire::ipv4_addr a_ip{10, 0, 0, 1}, b_ip{10, 0, 0, 2};
const atcp::endpoint b_at(asio::ip::make_address_v4("10.0.0.2"), 8080);

// One host: an io_context with its bypass_service on a test port, manual drive on the shared clock.
struct lane {
  lane(wire::mac_addr mac, wire::ipv4_addr ip, const stack::time_ns& clock,
       bypass::drive_mode drive = bypass::drive_mode::manual) {
    svc = &asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c;
    c.iface.mac = mac;
    c.iface.addr = ip;
    c.iface.prefix_len = 24;
    c.drive = drive;
    c.clock = [&clock] { return clock; };
    EXPECT_FALSE(svc->attach(port, c));
    svc->start();   // manual: nothing
  }
  test_port port;            // outlives the io_context: its service's stack holds the port's frames
  asio::io_context ctx{1};
  bypass::bypass_service* svc = nullptr;
  // Runs the ready handlers; how many ran.
  std::size_t drain() {
    ctx.restart();
    return ctx.poll();
  }
  // busy_poll: a few handlers (the poll handler re-posts itself, so poll() would never return).
  void turn() {
    if (ctx.stopped()) ctx.restart();
    for (int i = 0; i < 8; ++i) ctx.poll_one();
  }
};

struct bypass_tcp : ::testing::Test {
  stack::time_ns now = 1'000'000;
  lane a{a_mac, a_ip, now}, b{b_mac, b_ip, now};

  // What the test's sockets left (a FIN from a destructor's close) goes out before the leak check.
  void TearDown() override {
    pump();
    EXPECT_EQ(a.port.pool().out(), 0u) << "a frame leaked on a";
    EXPECT_EQ(b.port.pool().out(), 0u) << "a frame leaked on b";
  }
  static void move(lane& from, lane& to) {
    auto frames = std::move(from.port.sent);
    from.port.sent.clear();
    for (auto& f : frames) ASSERT_TRUE(to.port.inject(f));
  }
  // Polls both lanes at `now`, moves frames and runs handlers until nothing happens any more.
  void pump() {
    for (int i = 0; i < 100000; ++i) {
      a.svc->poll_once();
      b.svc->poll_once();
      const std::size_t ran = a.drain() + b.drain();
      if (ran == 0 && a.port.sent.empty() && b.port.sent.empty() && a.port.pending_rx() == 0 && b.port.pending_rx() == 0)
        return;
      move(a, b);
      move(b, a);
    }
    FAIL() << "the two lanes never went quiet";
  }
  // Runs every timer due until t, in deadline order.
  void advance_to(stack::time_ns t) {
    pump();
    for (;;) {
      const stack::time_ns d = std::min(a.svc->iface().next_deadline(), b.svc->iface().next_deadline());
      if (d > t) break;
      now = std::max(now, d);
      pump();
    }
    now = t;
    pump();
  }
  // A connected pair: client on a, the accepted socket on b (move-accept form).
  struct pair {
    std::unique_ptr<bacc> acc;
    std::unique_ptr<bsock> client, server;
  };
  pair connect_pair(int buffer = 0) {
    pair p;
    p.acc = std::make_unique<bacc>(b.ctx);
    p.acc->open(atcp::v4());
    if (buffer) {
      p.acc->set_option(asio::socket_base::receive_buffer_size(buffer));
      p.acc->set_option(asio::socket_base::send_buffer_size(buffer));
    }
    p.acc->bind(atcp::endpoint(atcp::v4(), 8080));
    p.acc->listen(8);
    p.client = std::make_unique<bsock>(a.ctx);
    if (buffer) {
      p.client->open(atcp::v4());
      p.client->set_option(asio::socket_base::receive_buffer_size(buffer));
      p.client->set_option(asio::socket_base::send_buffer_size(buffer));
    }
    std::optional<std::error_code> cec, aec;
    p.acc->async_accept([&](std::error_code ec, bsock s) {
      aec = ec;
      p.server = std::make_unique<bsock>(std::move(s));
    });
    p.client->async_connect(b_at, [&](std::error_code ec) { cec = ec; });
    pump();
    EXPECT_EQ(cec, std::error_code());
    EXPECT_EQ(aec, std::error_code());
    return p;
  }
};

TEST_F(bypass_tcp, connect_and_move_accept_complete_with_the_endpoints_of_a_kernel_socket) {
  bacc acc(b.ctx, atcp::endpoint(atcp::v4(), 8080));
  EXPECT_EQ(acc.local_endpoint().port(), 8080);
  bsock client(a.ctx);
  std::optional<std::error_code> cec, aec;
  std::optional<atcp::endpoint> peer_of_server;
  std::unique_ptr<bsock> server;
  acc.async_accept([&](std::error_code ec, bsock s) {
    aec = ec;
    peer_of_server = s.remote_endpoint();
    server = std::make_unique<bsock>(std::move(s));
  });
  EXPECT_EQ(acc.queued_ops(bypass::detail::op_type::accept), 1u);
  client.async_connect(b_at, [&](std::error_code ec) { cec = ec; });
  EXPECT_FALSE(cec) << "a handler never runs inside its initiating function";
  EXPECT_TRUE(client.is_open()) << "async_connect opens the socket, as Asio's does";
  pump();
  ASSERT_EQ(cec, std::error_code());
  ASSERT_EQ(aec, std::error_code());
  EXPECT_EQ(client.remote_endpoint(), b_at);
  EXPECT_EQ(client.local_endpoint().address(), asio::ip::make_address_v4("10.0.0.1"));
  EXPECT_GE(client.local_endpoint().port(), 1024);
  EXPECT_EQ(*peer_of_server, client.local_endpoint());
  ASSERT_TRUE(server && server->is_open());
  EXPECT_EQ(server->local_endpoint(), b_at);
  EXPECT_EQ(acc.queued_ops(bypass::detail::op_type::accept), 0u);
  EXPECT_EQ(server->native()->state(), ringlab::tcp::state::established);
}

TEST_F(bypass_tcp, accept_into_a_socket_and_an_open_peer_is_already_open) {
  bacc acc(b.ctx, atcp::endpoint(atcp::v4(), 8080));
  bsock server(b.ctx), client(a.ctx);
  std::optional<std::error_code> aec, cec;
  acc.async_accept(server, [&](std::error_code ec) { aec = ec; });
  client.async_connect(b_at, [&](std::error_code ec) { cec = ec; });
  pump();
  ASSERT_EQ(aec, std::error_code());
  ASSERT_EQ(cec, std::error_code());
  EXPECT_EQ(server.remote_endpoint(), client.local_endpoint());
  // A second accept into the now-open socket fails at once (posted), as asio's does.
  std::optional<std::error_code> again;
  acc.async_accept(server, [&](std::error_code ec) { again = ec; });
  EXPECT_FALSE(again);
  b.drain();
  EXPECT_EQ(again, asio::error::already_open);
  // The non-blocking form: nothing waiting.
  bsock other(b.ctx);
  std::error_code ec;
  acc.accept(other, ec);
  EXPECT_EQ(ec, asio::error::would_block);
}

TEST_F(bypass_tcp, exact_bytes_both_ways_through_async_write_and_async_read) {
  // 16 KB buffers, 200 KB each way: many windows, many write and read completions.
  auto p = connect_pair(16 * 1024);
  const auto up = pattern(200'000, 1), down = pattern(200'000, 2);
  std::vector<std::byte> got_up(up.size()), got_down(down.size());
  std::optional<std::pair<std::error_code, std::size_t>> w1, w2, r1, r2;
  asio::async_write(*p.client, asio::buffer(up), [&](std::error_code ec, std::size_t n) { w1.emplace(ec, n); });
  asio::async_write(*p.server, asio::buffer(down), [&](std::error_code ec, std::size_t n) { w2.emplace(ec, n); });
  asio::async_read(*p.server, asio::buffer(got_up), [&](std::error_code ec, std::size_t n) { r1.emplace(ec, n); });
  asio::async_read(*p.client, asio::buffer(got_down), [&](std::error_code ec, std::size_t n) { r2.emplace(ec, n); });
  advance_to(now + 5 * stack::sec);
  ASSERT_TRUE(w1 && w2 && r1 && r2);
  EXPECT_EQ(*w1, std::make_pair(std::error_code(), up.size()));
  EXPECT_EQ(*w2, std::make_pair(std::error_code(), down.size()));
  EXPECT_EQ(*r1, std::make_pair(std::error_code(), up.size()));
  EXPECT_EQ(*r2, std::make_pair(std::error_code(), down.size()));
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
  EXPECT_EQ(p.client->available(), 0u);
}

// Issue 13 point 6: a read that waits posts its buffer, and in-order bytes go from the frame straight
// into it (never through the receive buffer) while no byte waits there.
TEST_F(bypass_tcp, a_pending_read_takes_the_bytes_straight_from_the_frames) {
  auto p = connect_pair();
  const auto up = pattern(1'000'000, 3);
  std::vector<std::byte> got, buf(64 * 1024);
  std::size_t reads = 0, peak_waiting = 0;
  std::optional<std::error_code> end, wrote;
  std::function<void()> read = [&] {
    p.server->async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
      if (ec) return end.emplace(ec), void();
      ++reads;
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      read();
    });
  };
  read();
  asio::async_write(*p.client, asio::buffer(up), [&](std::error_code ec, std::size_t) {
    wrote = ec;
    p.client->shutdown(atcp::socket::shutdown_send);
  });
  for (int i = 0; i < 100000 && !end; ++i) {
    a.svc->poll_once();
    b.svc->poll_once();
    peak_waiting = std::max(peak_waiting, p.server->native()->info().recv_queue);
    a.drain();
    b.drain();
    move(a, b);
    move(b, a);
  }
  ASSERT_EQ(wrote, std::error_code());
  ASSERT_EQ(end, asio::error::eof);
  ASSERT_EQ(got.size(), up.size());
  EXPECT_TRUE(got == up);
  // Every byte went straight in: the reader always waits, and no burst brings more than its 64 KiB.
  const auto& c = p.server->native()->counters();
  EXPECT_EQ(c.bytes_received, up.size());
  EXPECT_EQ(c.bytes_posted, up.size());
  EXPECT_EQ(peak_waiting, 0u) << "no byte waited in the receive buffer";
  EXPECT_LT(reads, up.size() / 1448) << "a read completes once per burst, not once per segment";
}

// A posted buffer smaller than the segment: its bytes go in, the rest waits in the receive buffer for
// the next read, in order; a read of a socket with bytes waiting never posts.
TEST_F(bypass_tcp, a_pending_read_smaller_than_the_segment_leaves_the_rest_in_order) {
  auto p = connect_pair();
  const auto up = pattern(1000, 4);
  std::vector<std::byte> small(100), rest(2000);
  std::optional<std::pair<std::error_code, std::size_t>> r1, r2;
  p.server->async_read_some(asio::buffer(small), [&](std::error_code ec, std::size_t n) { r1.emplace(ec, n); });
  asio::write(*p.client, asio::buffer(up));
  pump();
  ASSERT_TRUE(r1);
  EXPECT_EQ(*r1, std::make_pair(std::error_code(), std::size_t{100}));
  EXPECT_TRUE(std::equal(small.begin(), small.end(), up.begin()));
  EXPECT_EQ(p.server->available(), 900u);
  EXPECT_EQ(p.server->native()->counters().bytes_posted, 100u);
  p.server->async_read_some(asio::buffer(rest), [&](std::error_code ec, std::size_t n) { r2.emplace(ec, n); });
  pump();
  ASSERT_TRUE(r2);
  EXPECT_EQ(*r2, std::make_pair(std::error_code(), std::size_t{900}));
  EXPECT_TRUE(std::equal(up.begin() + 100, up.end(), rest.begin()));
  EXPECT_EQ(p.server->native()->counters().bytes_posted, 100u);
  EXPECT_EQ(p.server->available(), 0u);
}

TEST_F(bypass_tcp, read_until_and_a_scatter_read_and_available) {
  auto p = connect_pair();
  std::string line_buf;
  std::optional<std::pair<std::error_code, std::size_t>> r;
  asio::async_read_until(*p.server, asio::dynamic_buffer(line_buf), "\r\n",
                         [&](std::error_code ec, std::size_t n) { r.emplace(ec, n); });
  const std::string msg = "GET / HTTP/1.1\r\nHost: b\r\n";
  asio::async_write(*p.client, asio::buffer(msg.data(), 10), [](std::error_code, std::size_t) {});
  pump();
  EXPECT_FALSE(r) << "no delimiter yet";
  asio::async_write(*p.client, asio::buffer(msg.data() + 10, msg.size() - 10), [](std::error_code, std::size_t) {});
  pump();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, std::make_pair(std::error_code(), std::size_t{16}));
  EXPECT_EQ(line_buf, msg) << "read_until keeps what came after the delimiter in the buffer";
  // A scatter read takes from the stack into two buffers in order.
  const std::string more = "0123456789";
  std::error_code ec;
  EXPECT_EQ(p.client->write_some(asio::buffer(more), ec), more.size());
  EXPECT_FALSE(ec);
  // Nagle holds the small segment until the last one is acknowledged: the delayed ACK (40 ms) first.
  advance_to(now + 1 * stack::sec);
  EXPECT_EQ(p.server->available(), 10u);
  char x[4], y[16];
  std::array<asio::mutable_buffer, 2> bufs{asio::buffer(x), asio::buffer(y)};
  EXPECT_EQ(p.server->read_some(bufs, ec), 10u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(x, 4) + std::string(y, 6), more);
  EXPECT_EQ(p.server->read_some(asio::buffer(y), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
}

TEST_F(bypass_tcp, half_close_each_way_gives_eof_while_the_other_way_flows) {
  auto p = connect_pair();
  // Client sends, then shuts its sending side: the server reads the bytes, then eof.
  asio::write(*p.client, asio::buffer(std::string("last words")));
  p.client->shutdown(atcp::socket::shutdown_send);
  std::string got;
  std::optional<std::pair<std::error_code, std::size_t>> r;
  asio::async_read(*p.server, asio::dynamic_buffer(got), [&](std::error_code ec, std::size_t n) { r.emplace(ec, n); });
  pump();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, asio::error::eof);
  EXPECT_EQ(r->second, 10u);
  EXPECT_EQ(got, "last words");
  // A write after shutdown_send: broken_pipe, as send(2) gives EPIPE.
  std::optional<std::error_code> wec;
  p.client->async_write_some(asio::buffer("x", 1), [&](std::error_code ec, std::size_t) { wec = ec; });
  a.drain();
  EXPECT_EQ(wec, asio::error::broken_pipe);
  // The server's way still flows, then the server half-closes too.
  std::string back;
  std::optional<std::pair<std::error_code, std::size_t>> r2;
  asio::async_read(*p.client, asio::dynamic_buffer(back), [&](std::error_code ec, std::size_t n) { r2.emplace(ec, n); });
  asio::async_write(*p.server, asio::buffer(std::string("reply after your FIN")), [](std::error_code, std::size_t) {});
  pump();
  EXPECT_FALSE(r2) << "no eof before the server's FIN";
  p.server->shutdown(atcp::socket::shutdown_send);
  pump();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->first, asio::error::eof);
  EXPECT_EQ(back, "reply after your FIN");
}

TEST_F(bypass_tcp, linger_zero_close_resets_and_the_peer_read_gets_connection_reset) {
  auto p = connect_pair();
  std::optional<std::error_code> rec;
  char buf[16];
  p.server->async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t) { rec = ec; });
  p.client->set_option(asio::socket_base::linger(true, 0));
  asio::socket_base::linger l;
  p.client->get_option(l);
  EXPECT_TRUE(l.enabled());
  EXPECT_EQ(l.timeout(), 0);
  p.client->close();
  EXPECT_FALSE(p.client->is_open());
  pump();
  ASSERT_TRUE(rec);
  EXPECT_EQ(*rec, asio::error::connection_reset);
  // The next write on the reset socket: connection_reset too (the reason stays).
  std::error_code ec;
  p.server->write_some(asio::buffer("x", 1), ec);
  EXPECT_EQ(ec, asio::error::connection_reset);
}

TEST_F(bypass_tcp, a_closed_port_refuses_the_connect) {
  bsock client(a.ctx);
  std::optional<std::error_code> cec;
  client.async_connect(atcp::endpoint(asio::ip::make_address_v4("10.0.0.2"), 9), [&](std::error_code ec) { cec = ec; });
  pump();
  ASSERT_TRUE(cec);
  EXPECT_EQ(*cec, asio::error::connection_refused);
  // Not connected: a read says so.
  std::error_code ec;
  char c;
  client.remote_endpoint(ec);
  EXPECT_EQ(ec, asio::error::not_connected);
  client.read_some(asio::buffer(&c, 1), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(bypass_tcp, an_unanswered_connect_times_out) {
  bsock client(a.ctx);
  std::optional<std::error_code> cec;
  client.async_connect(b_at, [&](std::error_code ec) { cec = ec; });
  // Nothing reaches b: drop a's frames.
  for (int i = 0; i < 200 && !cec; ++i) {
    a.svc->poll_once();
    a.port.sent.clear();
    a.drain();
    now = std::max(now + 1, a.svc->iface().next_deadline());
  }
  ASSERT_TRUE(cec);
  EXPECT_EQ(*cec, asio::error::timed_out);
}

TEST_F(bypass_tcp, cancel_close_and_the_slot_abort_pending_ops) {
  auto p = connect_pair();
  char buf[8];
  std::vector<std::error_code> got;
  auto rec = [&](std::error_code ec, std::size_t = 0) { got.push_back(ec); };
  // cancel(): the read completes aborted; the socket stays usable.
  p.server->async_read_some(asio::buffer(buf), rec);
  EXPECT_EQ(p.server->queued_ops(bypass::detail::op_type::read), 1u);
  p.server->cancel();
  EXPECT_TRUE(got.empty()) << "posted, never inside cancel()";
  b.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], asio::error::operation_aborted);
  // The cancellation slot.
  asio::cancellation_signal sig;
  p.server->async_read_some(asio::buffer(buf), asio::bind_cancellation_slot(sig.slot(), [&](std::error_code ec, std::size_t) { got.push_back(ec); }));
  sig.emit(asio::cancellation_type::terminal);
  b.drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], asio::error::operation_aborted);
  EXPECT_EQ(p.server->queued_ops(bypass::detail::op_type::read), 0u);
  // Still connected: a read gets the next bytes.
  std::optional<std::size_t> n;
  p.server->async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t k) {
    EXPECT_FALSE(ec);
    n = k;
  });
  asio::write(*p.client, asio::buffer(std::string("abc")));
  pump();
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(std::string(buf, 3), "abc");
  // close(): a pending read and a pending accept complete aborted.
  p.server->async_read_some(asio::buffer(buf), rec);
  p.acc->async_accept([&](std::error_code ec, bsock s) {
    got.push_back(ec);
    EXPECT_FALSE(s.is_open());
  });
  p.server->close();
  p.acc->close();
  b.drain();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2], asio::error::operation_aborted);
  EXPECT_EQ(got[3], asio::error::operation_aborted);
  // A pending connect, closed.
  bsock c2(a.ctx);
  std::optional<std::error_code> cec;
  c2.async_connect(b_at, [&](std::error_code ec) { cec = ec; });
  c2.close();
  a.drain();
  EXPECT_EQ(cec, asio::error::operation_aborted);
  // Operations on a closed socket: bad_descriptor.
  std::optional<std::error_code> bad;
  p.server->async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t) { bad = ec; });
  b.drain();
  EXPECT_EQ(bad, asio::error::bad_descriptor);
  advance_to(now + 100 * stack::sec);   // the closed connections finish alone
}

TEST_F(bypass_tcp, use_future_and_use_awaitable_complete) {
  bacc acc(b.ctx, atcp::endpoint(atcp::v4(), 8080));
  // The server: a coroutine that accepts, reads a line, answers it upper-cased, and half-closes.
  std::string served;
  asio::co_spawn(
      b.ctx,
      [&]() -> asio::awaitable<void> {
        bsock s = co_await acc.async_accept(asio::use_awaitable);
        std::string line;
        const std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(line), '\n', asio::use_awaitable);
        served = line.substr(0, n);
        for (auto& ch : served) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        co_await asio::async_write(s, asio::buffer(served), asio::use_awaitable);
        s.shutdown(atcp::socket::shutdown_send);
        char c;
        std::error_code ec;
        co_await s.async_read_some(asio::buffer(&c, 1), asio::redirect_error(asio::use_awaitable, ec));
        EXPECT_EQ(ec, asio::error::eof);
      },
      [](std::exception_ptr e) { EXPECT_FALSE(e); });
  // The client: use_future.
  bsock client(a.ctx);
  std::future<void> c = client.async_connect(b_at, asio::use_future);
  pump();
  ASSERT_EQ(c.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  c.get();
  std::future<std::size_t> w = asio::async_write(client, asio::buffer(std::string("hello bypass\n")), asio::use_future);
  std::string reply;
  std::future<std::size_t> r = asio::async_read(client, asio::dynamic_buffer(reply), asio::transfer_at_least(13), asio::use_future);
  pump();
  ASSERT_EQ(w.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(w.get(), 13u);
  ASSERT_EQ(r.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(r.get(), 13u);
  EXPECT_EQ(reply, "HELLO BYPASS\n");
  // eof through use_future: the exception carries it.
  char c1;
  std::future<std::size_t> e = client.async_read_some(asio::buffer(&c1, 1), asio::use_future);
  pump();
  try {
    e.get();
    ADD_FAILURE() << "no eof";
  } catch (const std::system_error& ex) {
    EXPECT_EQ(ex.code(), asio::error::eof);
  }
  client.shutdown(atcp::socket::shutdown_send);
  pump();
}

TEST_F(bypass_tcp, options_round_trip_and_buffer_sizes_are_fixed_once_connected) {
  bsock s(a.ctx);
  s.open(atcp::v4());
  s.set_option(atcp::no_delay(true));
  s.set_option(asio::socket_base::keep_alive(true));
  s.set_option(asio::socket_base::receive_buffer_size(32768));
  atcp::no_delay nd;
  asio::socket_base::keep_alive ka;
  asio::socket_base::receive_buffer_size rb;
  s.get_option(nd);
  s.get_option(ka);
  s.get_option(rb);
  EXPECT_TRUE(nd.value());
  EXPECT_TRUE(ka.value());
  EXPECT_EQ(rb.value(), 32768);
  std::error_code ec;
  s.set_option(asio::socket_base::send_buffer_size(0), ec);
  EXPECT_EQ(ec, asio::error::invalid_argument);
  // Bound, then resized: the socket is remade on the same endpoint.
  s.bind(atcp::endpoint(atcp::v4(), 4000));
  s.set_option(asio::socket_base::send_buffer_size(8192), ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(s.local_endpoint().port(), 4000);
  bacc acc(b.ctx, atcp::endpoint(atcp::v4(), 8080));
  std::unique_ptr<bsock> server;
  acc.async_accept([&](std::error_code, bsock x) { server = std::make_unique<bsock>(std::move(x)); });
  std::optional<std::error_code> cec;
  s.async_connect(b_at, [&](std::error_code e) { cec = e; });
  pump();
  ASSERT_EQ(cec, std::error_code());
  EXPECT_EQ(s.local_endpoint().port(), 4000);
  ASSERT_TRUE(server);
  s.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);
  EXPECT_EQ(ec, asio::error::invalid_argument);
  // Setting options on an open acceptor after bind is refused (the listener copied its config).
  acc.set_option(asio::socket_base::receive_buffer_size(4096), ec);
  EXPECT_EQ(ec, asio::error::invalid_argument);
  // A write fills the 8 KB send buffer, then would_block.
  const auto big = pattern(64 * 1024, 3);
  const std::size_t n = s.write_some(asio::buffer(big), ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, 8192u);
  s.write_some(asio::buffer(big), ec);
  EXPECT_EQ(ec, asio::error::would_block);
}

// Driven from the io_contexts (busy_poll): completions done inside the poll handler run from its
// ready list without a post (lane_counters::ran_inline), as UDP's do; an echo of 50 KB comes back exact.
TEST(bypass_tcp_drive, busy_poll_completes_from_the_poll_handler_and_echoes_exactly) {
  stack::time_ns now = 1'000'000;
  lane x{a_mac, a_ip, now, bypass::drive_mode::busy_poll}, y{b_mac, b_ip, now, bypass::drive_mode::busy_poll};
  auto step = [&] {
    x.turn();
    y.turn();
    for (auto [from, to] : {std::pair{&x, &y}, std::pair{&y, &x}}) {
      auto frames = std::move(from->port.sent);
      from->port.sent.clear();
      for (auto& f : frames) ASSERT_TRUE(to->port.inject(f));
    }
    now += 1 * stack::ms;   // delayed ACKs and Nagle move on
  };
  bacc acc(y.ctx, atcp::endpoint(atcp::v4(), 8080));
  const auto data = pattern(50'000, 7);
  std::vector<std::byte> echoed(data.size());
  bool done = false;
  // The server echoes what it reads until eof, then half-closes.
  std::unique_ptr<bsock> server;
  std::array<std::byte, 4096> sbuf;
  std::function<void()> serve = [&] {
    server->async_read_some(asio::buffer(sbuf), [&](std::error_code ec, std::size_t n) {
      if (ec == asio::error::eof) return server->shutdown(atcp::socket::shutdown_send);
      ASSERT_FALSE(ec) << ec.message();
      asio::async_write(*server, asio::buffer(sbuf.data(), n), [&](std::error_code wec, std::size_t) {
        ASSERT_FALSE(wec);
        serve();
      });
    });
  };
  acc.async_accept([&](std::error_code ec, bsock s) {
    ASSERT_FALSE(ec);
    server = std::make_unique<bsock>(std::move(s));
    serve();
  });
  bsock client(x.ctx);
  client.async_connect(b_at, [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    asio::async_write(client, asio::buffer(data), [&](std::error_code wec, std::size_t n) {
      ASSERT_FALSE(wec);
      EXPECT_EQ(n, data.size());
      client.shutdown(atcp::socket::shutdown_send);
    });
    asio::async_read(client, asio::buffer(echoed), [&](std::error_code rec, std::size_t n) {
      EXPECT_FALSE(rec);
      EXPECT_EQ(n, data.size());
      done = true;
    });
  });
  for (int i = 0; i < 20000 && !done; ++i) step();
  ASSERT_TRUE(done);
  EXPECT_TRUE(echoed == data);
  EXPECT_GT(x.svc->counters().ran_inline, 0u) << "reads completed from the poll handler's ready list";
  EXPECT_GT(y.svc->counters().ran_inline, 0u);
  for (int i = 0; i < 200; ++i) step();   // FINs both ways
  EXPECT_EQ(server->native()->state(), ringlab::tcp::state::closed) << "server: its FIN acknowledged, the peer's read";
  server.reset();
  client.close();
  acc.close();
  for (int i = 0; i < 10; ++i) step();
  x.svc->stop();
  y.svc->stop();
  EXPECT_EQ(x.port.pool().out(), 0u);
  EXPECT_EQ(y.port.pool().out(), 0u);
}

// One lane, both ends on the interface's own address (the stack's TCP loopback).
TEST_F(bypass_tcp, loopback_on_one_lane_carries_exact_bytes_and_eof) {
  bacc acc(b.ctx, atcp::endpoint(atcp::v4(), 8080));
  bsock client(b.ctx);
  std::unique_ptr<bsock> server;
  std::optional<std::error_code> cec;
  acc.async_accept([&](std::error_code ec, bsock s) {
    ASSERT_FALSE(ec);
    server = std::make_unique<bsock>(std::move(s));
  });
  client.async_connect(b_at, [&](std::error_code ec) { cec = ec; });
  advance_to(now + 1 * stack::sec);
  ASSERT_EQ(cec, std::error_code());
  ASSERT_TRUE(server);
  EXPECT_EQ(server->remote_endpoint(), client.local_endpoint());
  const auto data = pattern(30'000, 9);
  asio::async_write(client, asio::buffer(data), [&](std::error_code ec, std::size_t) {
    EXPECT_FALSE(ec);
    client.shutdown(atcp::socket::shutdown_send);
  });
  std::vector<std::byte> got;
  std::optional<std::error_code> rec;
  asio::async_read(*server, asio::dynamic_buffer(got), [&](std::error_code ec, std::size_t) { rec = ec; });
  advance_to(now + 1 * stack::sec);
  ASSERT_TRUE(rec);
  EXPECT_EQ(*rec, asio::error::eof);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(a.port.sent.size(), 0u);
}

}  // namespace
