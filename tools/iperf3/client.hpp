#pragma once
// ringlab::iperf3::client: a scripted iperf3 client of our own, over any socket type with
// asio::ip::tcp::socket's functions (kernel or bypass). It speaks what stock `iperf3 -c` speaks
// (protocol.hpp), but ends the test by bytes, not by time: each stream sends (or, with -R, receives)
// exactly `bytes_per_stream`, then TEST_END. The tests drive the server with it and check the exact
// state sequence and the result JSON; on the simulated NIC nothing else can reach the server.
//
// Before TEST_END it waits until `ready_to_end()` says so (re-posted on the executor, no timer):
// the test uses it to let the server read every byte sent, so that its count is exact and known.
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tools/iperf3/protocol.hpp"

namespace ringlab::iperf3 {

struct client_report {
  std::vector<state> received;              // the server's control messages, in order
  std::optional<std::int32_t> server_error;  // SERVER_ERROR's i_errno
  std::vector<std::uint64_t> bytes;          // per stream: sent (normal) or received (reverse)
  std::string results;                       // the server's results JSON, as received
  bool completed = false;                    // IPERF_DONE sent
  std::string error;
};

template <class Socket, class Endpoint>
class client {
 public:
  struct options {
    test_params params;
    std::uint64_t bytes_per_stream = 1 << 20;
    std::uint64_t cookie_seed = 1;
    std::function<bool()> ready_to_end;            // default: at once
    // Instead of ready_to_end's polling (a re-posted handler: an io_context's poll() that runs every
    // ready handler would never return): handed the step that sends TEST_END, which the owner calls
    // when it sees fit (between its own rounds; sim_self_test).
    std::function<void(std::function<void()> end_now)> hold_end;
    std::function<void(const client_report&)> done;
  };
  // make_socket: a fresh, unconnected socket on the executor the client runs on.
  client(std::function<std::unique_ptr<Socket>()> make_socket, Endpoint server, options o)
      : make_(std::move(make_socket)), at_(server), o_(std::move(o)), cookie_(make_cookie(o_.cookie_seed)) {}

  void start() {
    ctrl_ = make_();
    ctrl_->async_connect(at_, [this](std::error_code ec) {
      if (ec) return fail("connect: " + ec.message());
      asio::async_write(*ctrl_, asio::buffer(cookie_), [this](std::error_code e, std::size_t) {
        if (e) return fail("cookie: " + e.message());
        expect(state::param_exchange, [this] { send_params(); });
      });
    });
  }
  const client_report& report() const noexcept { return r_; }
  bool finished() const noexcept { return finished_; }

 private:
  struct stream {
    std::unique_ptr<Socket> s;
    std::vector<std::byte> buf;
    std::uint64_t n = 0;
    bool done = false;
  };

  void fail(std::string why) {
    if (finished_) return;
    r_.error = std::move(why);
    finish();
  }
  void finish() {
    finished_ = true;
    std::error_code ignored;
    for (auto& s : streams_) s->s->close(ignored);
    if (ctrl_) ctrl_->close(ignored);
    r_.bytes.clear();
    for (auto& s : streams_) r_.bytes.push_back(s->n);
    if (o_.done) o_.done(r_);
  }
  // Reads one control message; `want` goes on to next, SERVER_ERROR reads its two numbers, anything
  // else fails the run.
  template <class Next>
  void expect(state want, Next next) {
    asio::async_read(*ctrl_, asio::buffer(&msg_, 1), [this, want, next](std::error_code ec, std::size_t) {
      if (finished_) return;
      if (ec) return fail(std::string("waiting for ") + std::string(to_string(want)) + ": " + ec.message());
      const auto s = static_cast<state>(static_cast<std::int8_t>(std::to_integer<std::uint8_t>(msg_)));
      r_.received.push_back(s);
      if (s == want) return next();
      if (s != state::server_error) return fail(std::string("expected ") + std::string(to_string(want)) + ", got " + std::string(to_string(s)));
      asio::async_read(*ctrl_, asio::buffer(err_), [this](std::error_code e, std::size_t) {
        if (!e) r_.server_error = static_cast<std::int32_t>(read_length(std::span<const std::byte, 4>(err_.data(), 4)));
        fail("SERVER_ERROR");
      });
    });
  }
  void write_json(const std::string& j, std::function<void()> next) {
    out_.clear();
    const auto len = length_prefix(j.size());
    out_.insert(out_.end(), len.begin(), len.end());
    for (char c : j) out_.push_back(std::byte(static_cast<std::uint8_t>(c)));
    asio::async_write(*ctrl_, asio::buffer(out_), [this, next](std::error_code ec, std::size_t) {
      if (ec) return fail("write: " + ec.message());
      next();
    });
  }
  void send_state(state s, std::function<void()> next) {
    one_ = std::byte(static_cast<std::uint8_t>(s));
    asio::async_write(*ctrl_, asio::buffer(&one_, 1), [this, next](std::error_code ec, std::size_t) {
      if (ec) return fail("write: " + ec.message());
      next();
    });
  }

  void send_params() {
    write_json(params_json(o_.params), [this] { expect(state::create_streams, [this] { connect_streams(); }); });
  }
  // One stream after the other, as iperf3's client does (connect, cookie, then the next): the server
  // numbers the streams in the order it accepted them, which is then this order also across lanes.
  void connect_streams() {
    connect_stream(0);
    expect(state::test_start, [this] {
      expect(state::test_running, [this] {
        for (auto& s : streams_) o_.params.reverse ? receive(s.get()) : send(s.get());
      });
    });
  }
  void connect_stream(std::uint32_t i) {
    if (i == o_.params.parallel || finished_) return;
    auto st = std::make_unique<stream>();
    st->s = make_();
    st->buf.assign(o_.params.reverse ? std::max<std::size_t>(o_.params.len, 64 * 1024) : o_.params.len, std::byte{'x'});
    stream* p = st.get();
    streams_.push_back(std::move(st));
    p->s->async_connect(at_, [this, p, i](std::error_code ec) {
      if (ec) return fail("stream connect: " + ec.message());
      asio::async_write(*p->s, asio::buffer(cookie_), [this, i](std::error_code e, std::size_t) {
        if (e) return fail("stream cookie: " + e.message());
        connect_stream(i + 1);
      });
    });
  }
  void send(stream* s) {
    const std::uint64_t left = o_.bytes_per_stream - s->n;
    if (left == 0) return stream_done(s);
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, s->buf.size()));
    asio::async_write(*s->s, asio::buffer(s->buf.data(), k), [this, s](std::error_code ec, std::size_t n) {
      s->n += n;
      if (finished_) return;
      if (ec) return fail("stream write: " + ec.message());
      send(s);
    });
  }
  void receive(stream* s) {
    if (s->n >= o_.bytes_per_stream) return stream_done(s);
    s->s->async_read_some(asio::buffer(s->buf), [this, s](std::error_code ec, std::size_t n) {
      s->n += n;
      if (finished_) return;
      if (ec) return fail("stream read: " + ec.message());
      receive(s);
    });
  }
  void stream_done(stream* s) {
    s->done = true;
    for (auto& x : streams_)
      if (!x->done) return;
    wait_then_end();
  }
  void wait_then_end() {
    if (finished_) return;
    if (o_.hold_end) {
      auto hold = std::move(o_.hold_end);
      o_.hold_end = {};
      return hold([this] { wait_then_end(); });
    }
    if (o_.ready_to_end && !o_.ready_to_end())
      return asio::post(ctrl_->get_executor(), [this] { wait_then_end(); });
    send_state(state::test_end, [this] {
      expect(state::exchange_results, [this] {
        std::vector<stream_result> mine;
        for (std::size_t i = 0; i < streams_.size(); ++i) mine.push_back({.id = stream_id(i), .bytes = streams_[i]->n});
        write_json(client_results_json(mine, !o_.params.reverse), [this] { read_results(); });
      });
    });
  }
  void read_results() {
    asio::async_read(*ctrl_, asio::buffer(len_), [this](std::error_code ec, std::size_t) {
      if (ec) return fail("results length: " + ec.message());
      r_.results.assign(read_length(len_), '\0');
      asio::async_read(*ctrl_, asio::buffer(r_.results), [this](std::error_code e, std::size_t) {
        if (e) return fail("results: " + e.message());
        expect(state::display_results, [this] {
          send_state(state::iperf_done, [this] {
            r_.completed = true;
            finish();
          });
        });
      });
    });
  }

  std::function<std::unique_ptr<Socket>()> make_;
  Endpoint at_;
  options o_;
  std::array<char, cookie_size> cookie_;
  std::unique_ptr<Socket> ctrl_;
  std::vector<std::unique_ptr<stream>> streams_;
  std::byte msg_{}, one_{};
  std::array<std::byte, 8> err_{};
  std::array<std::byte, 4> len_{};
  std::vector<std::byte> out_;
  client_report r_;
  bool finished_ = false;
};

}  // namespace ringlab::iperf3
