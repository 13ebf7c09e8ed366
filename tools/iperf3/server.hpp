#pragma once
// ringlab::iperf3::server: the server side of the iperf3 protocol (protocol.hpp has the exchange in a
// picture), written once over an acceptor and a socket type with asio::ip::tcp's functions and
// completion signatures: the same code runs over kernel sockets (asio::ip::tcp) and over the
// user-space stack (ringlab::bypass::tcp), so stock `iperf3 -c` measures either.
//
// Acceptor needs: async_accept(void(error_code, Socket)), cancel(), get_executor().
// Socket needs:   async_read_some / async_write_some (so asio::async_read / async_write compose),
//                 set_option(asio::ip::tcp::no_delay), close(error_code&).
//
// One test at a time (as iperf3's server): the first connection while idle is the control
// connection; while the streams are being made, a connection that sends the test's cookie is a data
// stream; any other connection gets ACCESS_DENIED. Everything runs on the acceptor's executor, one
// thread (a bypass lane's, or a kernel io_context run by one thread): no handler overlaps another.
//
// Counting: a stream's bytes are what its reads returned (receive) or what the socket took from its
// writes (reverse), every completion counted, also one that ends with an error; the reported number
// is exactly that count (less what came within -O seconds). The retransmits of a sending stream come
// from the caller's hook (the stack's RetransSegs, the kernel's tcp_info).
//
// On N lanes (`--lanes N`, bypass::tcp_lanes): one server per lane, all given one test_registry
// (hooks::registry; test_registry.hpp has the picture). A connection arrives on its lane's server
// (serve(), from the lane's listener); the lane whose connection brought a new cookie runs the control
// connection; a data connection stays on its own lane and counts into the registry's slot; the lanes
// learn of TEST_START and TEST_END by flags their own timer reads (hooks::flag_period_s), never by a post.
//
// Only templates here: a header compiled wherever the caller's Asio is.
#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <algorithm>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tools/iperf3/protocol.hpp"
#include "tools/iperf3/test_registry.hpp"

namespace ringlab::iperf3 {

// One test as the server saw it (handed to hooks::on_test_end).
struct test_report {
  test_params params;
  std::vector<stream_result> streams;   // bytes and retransmits as reported to the client
  std::vector<state> received;          // the control messages the client sent, in order
  std::uint64_t bytes = 0;              // the sum of the streams' bytes
  double seconds = 0;                   // TEST_RUNNING .. TEST_END
  bool completed = false;               // IPERF_DONE came after the results exchange
  std::string error;                    // why not (refused, client terminated, connection lost ...)
  std::string peer;                     // the control connection's remote endpoint
  // --lanes: the lane of the control connection and of each stream (in the streams' order); empty
  // stream_lanes on one lane.
  std::size_t control_lane = 0;
  std::vector<std::size_t> stream_lanes;
  std::vector<std::uint16_t> stream_ports;   // --lanes: each stream's remote port (the RSS input)
};

template <class Acceptor, class Socket>
class server {
 public:
  struct hooks {
    std::function<std::int64_t(Socket&)> retransmits;   // a stream's retransmitted segments (-1: unknown)
    std::function<double()> now_s;                      // seconds on a steady clock
    std::function<void(const test_report&)> on_test_end;
    std::function<void(const std::string&)> log;
    double grace_s = 10;   // a running test longer than time + omit + grace_s is ended (client gone)
    // --lanes: the registry every lane's server shares, and this server's lane. nullptr: one lane,
    // the test's streams are this server's own.
    test_registry* registry = nullptr;
    std::size_t lane = 0;
    // --lanes: how often this lane's timer reads the registry's flags (check()); 0: no timer, the
    // owner calls check() (the simulation, between its rounds).
    double flag_period_s = 0.001;
  };

  server(Acceptor& acc, hooks h) : server(acc.get_executor(), std::move(h)) { acc_ = &acc; }
  // No acceptor: connections come through serve() (a lane's listener, tcp_apps::lane_apps).
  server(asio::any_io_executor ex, hooks h)
      : ex_(std::move(ex)), h_(std::move(h)), guard_(ex_), omit_timer_(ex_), flags_(ex_) {}
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() { stop(); }

  void start() { accept_next(); }
  // A connection accepted elsewhere (a lane's listener): its cookie says what it is.
  void serve(Socket s) {
    if (stopped_) return;
    auto p = std::make_shared<pending>();
    p->s = std::make_unique<Socket>(std::move(s));
    if (h_.registry) p->accepted_s = h_.now_s();
    pending_.push_back(p);
    asio::async_read(*p->s, asio::buffer(p->cookie), [this, p](std::error_code e, std::size_t) {
      if (e == asio::error::operation_aborted) return;   // stop() closed it: `this` may be gone
      on_cookie(p, e);
    });
  }
  // Stops accepting and ends a test under way (reported with error "stopped"); queued handlers
  // complete with operation_aborted afterwards, so the io_context must run them before `this` dies.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (acc_) acc_->cancel();
    flags_.cancel();
    for (auto& p : pending_) close(*p->s);
    pending_.clear();
    end_test("stopped");
    for (auto& x : lane_streams_) {
      if (x->open) x->open = false, close(*x->s);
      finalize(*x);
    }
    lane_streams_.clear();
  }
  bool busy() const noexcept { return static_cast<bool>(test_); }
  // The bytes the running test's streams counted so far (0 when idle).
  std::uint64_t counted() const noexcept {
    std::uint64_t n = 0;
    if (test_)
      for (const auto& x : test_->streams) n += x->bytes;
    return n;
  }
  // f(Socket&) for the control connection and every open stream of this lane (--stats).
  template <class F>
  void for_each_socket(F&& f) {
    if (test_ && test_->ctrl) f(*test_->ctrl);
    if (test_)
      for (auto& x : test_->streams)
        if (x->open) f(*x->s);
    for (auto& x : lane_streams_)
      if (x->open) f(*x->s);
  }

  // --lanes: the registry's flags as this lane acts on them (test_registry.hpp), on this lane's thread:
  // the control lane starts the test once P streams joined and sends the results once every stream
  // is final; a stream of this lane starts on `run` and closes on `stop`. Called by the flag timer,
  // or by the owner when flag_period_s is 0. Returns whether it did anything.
  bool check() {
    bool did = false;
    if (test_ && test_->shared) {
      test* t = test_.get();
      if (t->ph == phase::streams && t->shared->joined.load(std::memory_order_acquire) == t->report.params.parallel) {
        start_running();
        did = true;
      } else if (t->collecting && std::all_of(t->slots.begin(), t->slots.end(), [](const auto& s) {
                   return s->final.load(std::memory_order_acquire);
                 })) {
        t->collecting = false;
        send_results(*t, t->cpu, {});
        did = true;
      }
    }
    for (auto it = lane_streams_.begin(); it != lane_streams_.end();) {
      lane_stream& x = **it;
      const bool stop = x.t->stop.load(std::memory_order_acquire);
      if (!x.started && !stop && x.t->run.load(std::memory_order_acquire)) {
        x.started = true;
        pump(*it);
        did = true;
      }
      if (stop && x.open) {
        // The retransmits before the close: the stack forgets the connection's counters with it.
        if (x.reverse && h_.retransmits) x.slot->retransmits.store(h_.retransmits(*x.s), std::memory_order_relaxed);
        x.open = false;
        close(*x.s);
        if (!x.in_flight) finalize(x);   // else the pending operation's completion does (its bytes count)
        did = true;
      }
      it = !x.open && !x.in_flight ? lane_streams_.erase(it) : std::next(it);
    }
    return did;
  }

 private:
  struct stream {
    std::unique_ptr<Socket> s;
    int id = 0;
    std::uint64_t bytes = 0, omitted = 0;
    std::vector<std::byte> buf;
    bool open = true;
  };
  struct pending {
    std::unique_ptr<Socket> s;
    double accepted_s = 0;   // --lanes: the streams' ids follow it (test_registry::join)
    std::array<char, cookie_size> cookie{};
  };
  // --lanes: a data connection of a test whose control connection may be on another lane.
  struct lane_stream {
    std::unique_ptr<Socket> s;
    std::shared_ptr<shared_test> t;
    std::shared_ptr<stream_slot> slot;
    std::vector<std::byte> buf;
    bool reverse = false, started = false, open = true, in_flight = false;
  };
  enum class phase { params, streams, running, results, done_wait };
  struct test {
    std::unique_ptr<Socket> ctrl;
    std::array<char, cookie_size> cookie{};
    phase ph = phase::params;
    test_report report;
    std::vector<std::shared_ptr<stream>> streams;
    std::deque<std::vector<std::byte>> out;   // control writes, one at a time
    bool writing = false;
    bool end_after_writes = false;   // a refusal: close once it went out
    std::array<std::byte, 4> len{};
    std::string json;
    std::byte msg{};
    double t0 = 0;
    cpu_clock cpu0;
    std::shared_ptr<shared_test> shared;               // --lanes: the registry's test
    std::vector<std::shared_ptr<stream_slot>> slots;   // --lanes: its streams (taken at TEST_START)
    std::vector<std::uint64_t> omitted;                // --lanes: per slot, the bytes within -O
    bool collecting = false;                           // --lanes: results in, waiting for every slot final
    cpu_util cpu{};
  };

  static void close(Socket& s) {
    std::error_code ignored;
    s.close(ignored);
  }
  void log(const std::string& l) {
    if (h_.log) h_.log(l);
  }

  void accept_next() {
    if (stopped_ || !acc_) return;
    acc_->async_accept([this](std::error_code ec, Socket s) {
      // operation_aborted first: after stop() the server may be gone when the aborted accept runs.
      if (ec == asio::error::operation_aborted || stopped_) return;
      if (ec) log("accept: " + ec.message());
      else serve(std::move(s));
      accept_next();
    });
  }

  void on_cookie(const std::shared_ptr<pending>& p, std::error_code ec) {
    pending_.remove(p);
    if (ec || stopped_) return;   // a connection that closed before its cookie: nothing to answer
    if (h_.registry) {
      std::error_code e;
      const auto peer = p->s->remote_endpoint(e);
      if (auto [t, slot] = h_.registry->join(p->cookie, h_.lane, e ? 0 : peer.port(), p->accepted_s); slot)
        return add_lane_stream(std::move(p->s), std::move(t), std::move(slot));
      if (!test_)
        if (auto t = h_.registry->begin(p->cookie, h_.lane)) return begin_test(std::move(p->s), p->cookie, std::move(t));
      return deny(std::move(p->s));
    }
    if (!test_) return begin_test(std::move(p->s), p->cookie);
    if (test_->ph == phase::streams && p->cookie == test_->cookie) return add_stream(std::move(p->s));
    deny(std::move(p->s));
  }
  // Busy, or a cookie of no test of ours: iperf3 answers ACCESS_DENIED and closes.
  void deny(std::unique_ptr<Socket> sock) {
    auto s = std::shared_ptr<Socket>(std::move(sock));
    static constexpr std::byte denied{static_cast<std::uint8_t>(state::access_denied)};
    asio::async_write(*s, asio::buffer(&denied, 1), [s](std::error_code, std::size_t) { close(*s); });
  }

  // ---- control connection ----
  void send(std::vector<std::byte> b) {
    test_->out.push_back(std::move(b));
    if (!test_->writing) write_front();
  }
  void send(state s) { send({std::byte(static_cast<std::uint8_t>(s))}); }
  void write_front() {
    test* t = test_.get();
    t->writing = true;
    asio::async_write(*t->ctrl, asio::buffer(t->out.front()), [this, t](std::error_code ec, std::size_t) {
      if (test_.get() != t) return;   // that test ended meanwhile
      t->out.pop_front();
      t->writing = false;
      if (ec) return end_test("control connection: write: " + ec.message());
      if (!t->out.empty()) return write_front();
      if (t->end_after_writes) end_test(t->report.error);
    });
  }
  // A length-prefixed JSON message, then f(json text).
  template <class F>
  void read_json(F f) {
    test* t = test_.get();
    asio::async_read(*t->ctrl, asio::buffer(t->len), [this, t, f](std::error_code ec, std::size_t) {
      if (test_.get() != t) return;
      if (ec) return end_test("control connection: " + ec.message());
      const std::uint32_t n = read_length(t->len);
      if (n == 0 || n > max_json) return end_test("control connection: a JSON length of " + std::to_string(n));
      t->json.assign(n, '\0');
      asio::async_read(*t->ctrl, asio::buffer(t->json), [this, t, f](std::error_code e, std::size_t) {
        if (test_.get() != t) return;
        if (e) return end_test("control connection: " + e.message());
        f(t->json);
      });
    });
  }
  void read_message() {
    test* t = test_.get();
    asio::async_read(*t->ctrl, asio::buffer(&t->msg, 1), [this, t](std::error_code ec, std::size_t) {
      if (test_.get() != t) return;
      if (ec) return end_test(ec == asio::error::eof ? "the client closed the control connection"
                                                     : "control connection: " + ec.message());
      on_message(static_cast<state>(static_cast<std::int8_t>(std::to_integer<std::uint8_t>(t->msg))));
    });
  }

  void begin_test(std::unique_ptr<Socket> ctrl, const std::array<char, cookie_size>& cookie,
                  std::shared_ptr<shared_test> shared = nullptr) {
    test_ = std::make_unique<test>();
    test_->ctrl = std::move(ctrl);
    test_->cookie = cookie;
    test_->shared = std::move(shared);
    test_->report.control_lane = h_.lane;
    std::error_code ec;
    const auto peer = test_->ctrl->remote_endpoint(ec);
    test_->report.peer = ec ? "?" : peer.address().to_string() + ":" + std::to_string(peer.port());
    send(state::param_exchange);
    read_json([this](const std::string& j) {
      auto r = parse_params(j);
      if (r.refused) {
        // SERVER_ERROR with iperf3's error number: the client prints its text for it and exits 1.
        const auto m = server_error_message(r.refused->code);
        send({m.begin(), m.end()});
        return refuse(r.refused->why);
      }
      test_->report.params = *r.params;
      test_->ph = phase::streams;
      if (test_->shared) {   // before CREATE_STREAMS goes out: the data connections may join from then on
        h_.registry->open_streams(*test_->shared, *r.params);
        arm_flags();
      }
      send(state::create_streams);
      read_message();   // a CLIENT_TERMINATE or a closed control connection while streams come
    });
  }
  // The refusal is written before the control connection closes: the test ends once the write
  // queue is empty (write_front's completion), else at once.
  void refuse(const std::string& why) {
    test* t = test_.get();
    t->ph = phase::done_wait;
    t->report.error = "refused: " + why;
    if (!t->writing && t->out.empty()) return end_test(t->report.error);
    t->end_after_writes = true;
  }

  // A data stream's socket options and buffer (both forms of stream).
  static std::vector<std::byte> prepare_stream(Socket& s, const test_params& p) {
    if (p.no_delay) {
      std::error_code ignored;
      s.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    std::vector<std::byte> buf(p.reverse ? p.len : std::max<std::size_t>(p.len, 64 * 1024));
    if (p.reverse)   // iperf3 sends whatever its buffer holds; a pattern makes a capture readable
      for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = std::byte(static_cast<std::uint8_t>('0' + i % 10));
    return buf;
  }

  void add_stream(std::unique_ptr<Socket> s) {
    test* t = test_.get();
    auto st = std::make_shared<stream>();
    st->s = std::move(s);
    st->id = stream_id(t->streams.size());
    st->buf = prepare_stream(*st->s, t->report.params);
    t->streams.push_back(st);
    if (t->streams.size() < t->report.params.parallel) return;
    start_running();
  }

  // --lanes: a data connection on this lane (its test's control connection may be on another); it
  // waits for the test's `run` flag (check()).
  void add_lane_stream(std::unique_ptr<Socket> s, std::shared_ptr<shared_test> t, std::shared_ptr<stream_slot> slot) {
    auto x = std::make_shared<lane_stream>();
    x->s = std::move(s);
    x->buf = prepare_stream(*x->s, t->params);
    x->reverse = t->params.reverse;
    x->t = std::move(t);
    x->slot = std::move(slot);
    lane_streams_.push_back(std::move(x));
    arm_flags();
  }
  static void finalize(lane_stream& x) { x.slot->final.store(true, std::memory_order_release); }
  // Reads (or with -R writes) until the stream closes, counting into its slot. Touches only the stream
  // (not `this`): its completion may run after the server stopped.
  static void pump(const std::shared_ptr<lane_stream>& x) {
    x->in_flight = true;
    auto done = [x](std::error_code ec, std::size_t n) {
      x->in_flight = false;
      // One writer (this lane): a plain add, no read-modify-write across cores.
      x->slot->bytes.store(x->slot->bytes.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      if (!x->open) return finalize(*x);
      if (!ec) pump(x);   // eof or an error: nothing more on this stream; it closes on `stop`
    };
    if (x->reverse) x->s->async_write_some(asio::buffer(x->buf), std::move(done));
    else x->s->async_read_some(asio::buffer(x->buf), std::move(done));
  }
  void arm_flags() {
    if (h_.flag_period_s <= 0 || flags_armed_ || stopped_) return;
    flags_armed_ = true;
    flags_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(h_.flag_period_s)));
    flags_.async_wait([this](std::error_code ec) {
      if (ec == asio::error::operation_aborted) return;   // stop(): `this` may be gone
      flags_armed_ = false;
      if (stopped_) return;
      check();
      if ((test_ && test_->shared) || !lane_streams_.empty()) arm_flags();
    });
  }

  // All P streams are there: TEST_START, TEST_RUNNING, and the streams read (or write).
  void start_running() {
    test* t = test_.get();
    t->ph = phase::running;
    t->t0 = h_.now_s();
    t->cpu0 = cpu_clock::now();
    send({std::byte(static_cast<std::uint8_t>(state::test_start)), std::byte(static_cast<std::uint8_t>(state::test_running))});
    if (t->shared) {
      t->slots = h_.registry->slots(*t->shared);
      t->omitted.assign(t->slots.size(), 0);
      for (const auto& s : t->slots) t->report.stream_lanes.push_back(s->lane), t->report.stream_ports.push_back(s->peer_port);
      t->shared->run.store(true, std::memory_order_release);   // each stream's lane starts it at its next check()
    }
    for (auto& x : t->streams) t->report.params.reverse ? write_data(x) : read_data(x);
    if (t->report.params.omit) {
      omit_timer_.expires_after(std::chrono::seconds(t->report.params.omit));
      omit_timer_.async_wait([this, t](std::error_code ec) {
        if (ec || test_.get() != t) return;
        for (auto& x : t->streams) x->omitted = x->bytes;
        for (std::size_t i = 0; i < t->slots.size(); ++i) t->omitted[i] = t->slots[i]->bytes.load(std::memory_order_relaxed);
        t->t0 = h_.now_s();   // the reported time, like the bytes, starts after the omitted seconds
        t->cpu0 = cpu_clock::now();
      });
    }
    if (h_.grace_s > 0 && t->report.params.time > 0) {
      guard_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(t->report.params.time + t->report.params.omit + h_.grace_s)));
      guard_.async_wait([this, t](std::error_code ec) {
        if (!ec && test_.get() == t) end_test("the test ran past its time with no TEST_END (client gone?)");
      });
    }
  }

  // ---- data ----
  void read_data(const std::shared_ptr<stream>& st) {
    st->s->async_read_some(asio::buffer(st->buf), [this, st](std::error_code ec, std::size_t n) {
      st->bytes += n;
      if (ec || !st->open) return;   // eof: the client closed the stream; the test ends on TEST_END
      read_data(st);
    });
  }
  void write_data(const std::shared_ptr<stream>& st) {
    st->s->async_write_some(asio::buffer(st->buf), [this, st](std::error_code ec, std::size_t n) {
      st->bytes += n;
      if (ec || !st->open) return;
      write_data(st);
    });
  }
  void close_streams(test& t) {
    for (auto& x : t.streams) {
      if (!x->open) continue;
      x->open = false;
      close(*x->s);
    }
  }

  void on_message(state s) {
    test* t = test_.get();
    t->report.received.push_back(s);
    switch (s) {
      case state::test_end:
        if (t->ph != phase::running) break;
        return stop_streams();
      case state::iperf_done:
        if (t->ph != phase::done_wait) break;
        t->report.completed = true;
        return end_test("");
      case state::client_terminate:
        return end_test("the client terminated the test (CLIENT_TERMINATE)");
      default:
        break;
    }
    end_test("unexpected control message " + std::string(to_string(s)) + " (" +
             std::to_string(static_cast<int>(s)) + ")");
  }

  // TEST_END: the streams stop (their retransmits read before the close), EXCHANGE_RESULTS, the
  // client's results, ours, DISPLAY_RESULTS; then IPERF_DONE ends the test.
  void stop_streams() {
    test* t = test_.get();
    t->ph = phase::results;
    guard_.cancel();
    omit_timer_.cancel();
    t->report.seconds = h_.now_s() - t->t0;
    const cpu_util cpu = cpu_since(t->cpu0, t->report.seconds);
    std::vector<std::int64_t> rtx;
    for (auto& x : t->streams) rtx.push_back(t->report.params.reverse && h_.retransmits ? h_.retransmits(*x->s) : -1);
    close_streams(*t);
    // --lanes: each stream's lane closes it at its next check(), storing its retransmits, then its final count.
    if (t->shared) t->shared->stop.store(true, std::memory_order_release);
    send(state::exchange_results);
    read_json([this, t, cpu, rtx](const std::string& j) {
      std::string why;
      if (!parse_results(j, &why)) return end_test("the client's results: " + why);
      if (t->shared) {   // check() sends ours once every stream's count is final
        t->cpu = cpu;
        t->collecting = true;
        check();
        return;
      }
      send_results(*t, cpu, rtx);
    });
  }
  // The streams' counts as reported: read at the results, not at TEST_END (completions that were
  // already queued then have counted since). rtx: per stream (one lane), or empty (--lanes: the slots').
  void count_streams(test& t, const std::vector<std::int64_t>& rtx) {
    t.report.streams.clear();
    t.report.bytes = 0;
    auto add = [&](stream_result r) {
      t.report.bytes += r.bytes;
      t.report.streams.push_back(r);
    };
    for (std::size_t i = 0; i < t.streams.size(); ++i) {
      const auto& x = *t.streams[i];
      add({.id = x.id, .bytes = x.bytes - x.omitted, .retransmits = i < rtx.size() ? rtx[i] : -1, .start_time = 0,
           .end_time = t.report.seconds});
    }
    for (std::size_t i = 0; i < t.slots.size(); ++i) {
      const auto& s = *t.slots[i];
      add({.id = s.id, .bytes = s.bytes.load(std::memory_order_acquire) - t.omitted[i],
           .retransmits = t.report.params.reverse ? s.retransmits.load(std::memory_order_relaxed) : -1, .start_time = 0,
           .end_time = t.report.seconds});
    }
  }
  void send_results(test& t, const cpu_util& cpu, const std::vector<std::int64_t>& rtx) {
    count_streams(t, rtx);
    const std::string ours = results_json(t.report.streams, cpu, t.report.params.reverse);
    std::vector<std::byte> m;
    const auto len = length_prefix(ours.size());
    m.insert(m.end(), len.begin(), len.end());
    for (char c : ours) m.push_back(std::byte(static_cast<std::uint8_t>(c)));
    m.push_back(std::byte(static_cast<std::uint8_t>(state::display_results)));
    send(std::move(m));
    t.ph = phase::done_wait;
    read_message();
  }

  // The one way a test ends: streams and control closed, the report handed out, idle again.
  void end_test(std::string error) {
    if (!test_) return;
    auto t = std::move(test_);
    guard_.cancel();
    omit_timer_.cancel();
    close_streams(*t);
    if (t->shared) {   // the streams' lanes close them at their next check(); the registry is free again
      if (t->ph == phase::params || t->ph == phase::streams) {
        t->slots = h_.registry->slots(*t->shared);
        t->omitted.assign(t->slots.size(), 0);
      }
      h_.registry->end(*t->shared);
    }
    if (t->report.error.empty()) t->report.error = std::move(error);
    if (!t->report.completed && t->report.streams.empty()) count_streams(*t, {});   // ended before the results: what was counted
    close(*t->ctrl);
    // Handlers still queued on the old test's sockets hold their streams; the sockets themselves
    // must live until those handlers ran: kept one turn of the executor.
    auto keep = std::shared_ptr<test>(std::move(t));
    if (h_.on_test_end) h_.on_test_end(keep->report);
    asio::post(ex_, [keep] {});
  }

  Acceptor* acc_ = nullptr;
  asio::any_io_executor ex_;
  hooks h_;
  asio::steady_timer guard_, omit_timer_, flags_;
  bool flags_armed_ = false;
  std::list<std::shared_ptr<lane_stream>> lane_streams_;
  std::unique_ptr<test> test_;
  std::list<std::shared_ptr<pending>> pending_;
  bool stopped_ = false;
};

}  // namespace ringlab::iperf3
