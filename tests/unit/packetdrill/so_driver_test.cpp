// libringlab_packetdrill.so driven as packetdrill drives it: dlopen, packetdrill_interface_init, then
// scripts of socket calls, injected segments, sniffed segments and times, all through the struct.
// Each test is a packetdrill script written out (the script line above each step); every segment
// the stack sends is checked field by field, with the time it left on the virtual clock.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/packetdrill/so_driver.hpp"

namespace ringlab::packetdrill::testing {
namespace {

namespace flag = wire::tcp::flag;
using outcome = so_driver::outcome;
constexpr outcome ok{0, 0};
constexpr std::uint16_t remote_port = 40000;
constexpr std::uint16_t local_port = 8080;   // packetdrill's --bind_port / --connect_port default

template <class R>
outcome R_(R r) {
  return so_driver::result(r);
}

sockaddr_in addr(wire::ipv4_addr a, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  s.sin_addr.s_addr = htonl(a.value);
  return s;
}
const sockaddr* sa(const sockaddr_in& s) { return reinterpret_cast<const sockaddr*>(&s); }

bytes pattern(std::size_t n, unsigned seed) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
  return b;
}

// Options as a script line writes them: MSS, SACK permitted, window scale (-1: none), timestamps.
wire::tcp::options_repr tcp_options(std::uint16_t mss, bool sack, int wscale,
                                    std::optional<wire::tcp::timestamps> ts = std::nullopt) {
  wire::tcp::options_repr o;
  if (mss) o.mss = mss;
  o.sack_permitted = sack;
  if (wscale >= 0) o.window_scale = static_cast<std::uint8_t>(wscale);
  o.ts = ts;
  return o;
}

// A segment from the remote (port 40000) to ours.
wire::tcp::repr from_remote(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::uint16_t window,
                            std::span<const std::byte> payload = {}, wire::tcp::options_repr opts = {},
                            std::uint16_t dport = local_port) {
  wire::tcp::repr r;
  r.src_port = remote_port;
  r.dst_port = dport;
  r.seq = seq;
  r.ack = ack;
  r.flags = flags;
  r.window = window;
  r.opts = opts;
  r.payload = payload;
  return r;
}

// What every segment of ours carries: our address to the remote's, TTL 64, both checksums right.
void expect_ours(const sniffed& s, std::uint16_t sport, std::uint16_t dport) {
  EXPECT_EQ(s.src, local_ip);
  EXPECT_EQ(s.dst, remote_ip);
  EXPECT_EQ(s.ttl, 64);
  EXPECT_TRUE(s.ip_checksum_ok);
  EXPECT_TRUE(s.tcp_checksum_ok);
  EXPECT_EQ(s.seg.src_port, sport);
  EXPECT_EQ(s.seg.dst_port, dport);
  EXPECT_EQ(s.seg.urgent, 0);
}

// The first four lines of most of packetdrill's server-side scripts:
//     0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//    +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
//    +0 bind(3, ..., ...) = 0
//    +0 listen(3, 1) = 0
void listen_on_8080(packetdrill_interface& f, void* u) {
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, IPPROTO_TCP)), (outcome{3, 0}));
  const int one = 1;
  ASSERT_EQ(R_(f.setsockopt(u, 3, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)), ok);
  const sockaddr_in a = addr(local_ip, local_port);
  ASSERT_EQ(R_(f.bind(u, 3, sa(a), sizeof a)), ok);
  ASSERT_EQ(R_(f.listen(u, 3, 1)), ok);
}

// A passive open as packetdrill's scripts start (gtests/net/tcp/*: "socket, bind, listen, < S, > S.,
// < ., accept"): the remote offers MSS 1000, SACK and window scale 7, no timestamps.
struct passive : ::testing::Test {
  so_driver d;
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  std::uint32_t iss = 0;   // ours, from the SYN-ACK

  void open() {
    ASSERT_NO_FATAL_FAILURE(listen_on_8080(f, u));

    // 0.100 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
    d.at(0.100);
    const wire::tcp::options_repr syn_opts = tcp_options(1000, true, 7);
    ASSERT_EQ(d.inject(from_remote(0, 0, flag::syn, 32792, {}, syn_opts)), 0);

    // 0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 3>
    const auto synack = d.sniff();
    ASSERT_TRUE(synack);
    expect_ours(*synack, local_port, remote_port);
    EXPECT_EQ(synack->t_usecs, d.script_usecs(0.100));
    EXPECT_EQ(synack->seg.flags, flag::syn | flag::ack);
    EXPECT_EQ(synack->seg.ack, 1u);
    EXPECT_EQ(synack->seg.window, 65535);   // a SYN's window is never scaled: the 256 KiB buffer capped
    // SACK answered (the remote offered it); 256 KiB >> 3 fits 16 bits; no timestamps: none offered
    const wire::tcp::options_repr want = tcp_options(1460, true, 3);
    EXPECT_EQ(synack->seg.opts, want);
    EXPECT_TRUE(synack->payload.empty());
    iss = synack->seg.seq;

    // 0.200 < . 1:1(0) ack 1 win 257
    d.at(0.200);
    ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::ack, 257)), 0);
    // 0.200 accept(3, ..., ...) = 4
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ASSERT_EQ(R_(f.accept(u, 3, reinterpret_cast<sockaddr*>(&peer), &len)), (outcome{4, 0}));
    EXPECT_EQ(len, sizeof(sockaddr_in));
    EXPECT_EQ(peer.sin_family, AF_INET);
    EXPECT_EQ(ntohl(peer.sin_addr.s_addr), remote_ip.value);
    EXPECT_EQ(ntohs(peer.sin_port), remote_port);
  }

  // Our next segment: exactly these numbers, at exactly this script time.
  sniffed expect_segment(double at_secs, std::uint32_t rel_seq, std::uint32_t ack, std::uint8_t flags,
                         std::uint16_t window, std::size_t len) {
    const auto s = d.sniff();
    if (!s) {
      ADD_FAILURE() << "no segment (expected one at " << at_secs << " s)";
      return {};
    }
    expect_ours(*s, local_port, remote_port);
    EXPECT_EQ(s->t_usecs, d.script_usecs(at_secs)) << "at " << at_secs;
    EXPECT_EQ(s->seg.seq - iss, rel_seq) << "at " << at_secs;
    EXPECT_EQ(s->seg.ack, ack) << "at " << at_secs;
    EXPECT_EQ(s->seg.flags, flags) << "at " << at_secs;
    EXPECT_EQ(s->seg.window, window) << "at " << at_secs;
    EXPECT_EQ(s->payload.size(), len) << "at " << at_secs;
    EXPECT_FALSE(s->seg.opts.ts);
    return *s;
  }
};

TEST_F(passive, handshake_data_both_ways_a_loss_retransmitted_at_the_rto_and_close) {
  ASSERT_NO_FATAL_FAILURE(open());

  // 0.300 < P. 1:1001(1000) ack 1 win 257
  d.at(0.300);
  const bytes in1 = pattern(1000, 1);
  ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::psh | flag::ack, 257, in1)), 0);
  // 0.340 > . 1:1(0) ack 1001 win 32643   one segment: the ACK waits the 40 ms delayed-ACK time
  // (netdev_receive runs the clock to that timer); 1000 bytes unread: (262144 - 1000) >> 3
  expect_segment(0.340, 1, 1001, flag::ack, 32643, 0);
  // 0.350 read(4, ..., 2000) = 1000
  // 0.350 > . 1:1(0) ack 1001 win 32768   reading opened the window by an MSS: announced at once
  // (receiver SWS avoidance, RFC 9293 3.8.6.2.2)
  d.at(0.350);
  bytes buf(2000);
  ASSERT_EQ(R_(f.read(u, 4, buf.data(), buf.size())), (outcome{1000, 0}));
  EXPECT_EQ(bytes(buf.begin(), buf.begin() + 1000), in1);
  expect_segment(0.350, 1, 1001, flag::ack, 32768, 0);

  // 0.400 write(4, ..., 2000) = 2000
  // 0.400 > . 1:1001(1000) ack 1001       the remote's MSS 1000; the initial window sends both at once
  // 0.400 > P. 1001:2001(1000) ack 1001   PSH on the last of what was written
  d.at(0.400);
  const bytes out1 = pattern(2000, 2);
  ASSERT_EQ(R_(f.write(u, 4, out1.data(), out1.size())), (outcome{2000, 0}));
  const sniffed a = expect_segment(0.400, 1, 1001, flag::ack, 32768, 1000);
  const sniffed b = expect_segment(0.400, 1001, 1001, flag::psh | flag::ack, 32768, 1000);
  EXPECT_EQ(a.payload, bytes(out1.begin(), out1.begin() + 1000));
  EXPECT_EQ(b.payload, bytes(out1.begin() + 1000, out1.end()));
  // 0.500 < . 1001:1001(0) ack 2001 win 257
  d.at(0.500);
  ASSERT_EQ(d.inject(from_remote(1001, iss + 2001, flag::ack, 257)), 0);

  // 0.600 write(4, ..., 1000) = 1000
  // 0.600 > P. 2001:3001(1000) ack 1001     ... and the remote never sees it
  d.at(0.600);
  const bytes out2 = pattern(1000, 3);
  ASSERT_EQ(R_(f.write(u, 4, out2.data(), out2.size())), (outcome{1000, 0}));
  const sniffed lost = expect_segment(0.600, 2001, 1001, flag::psh | flag::ack, 32768, 1000);
  EXPECT_EQ(lost.payload, out2);
  // 0.850 > P. 2001:3001(1000) ack 1001     the retransmission at the RTO: RFC 6298 from two 100 ms
  // samples (SYN-ACK 0.1 -> 0.2, data 0.4 -> 0.5): SRTT 100 ms, RTTVAR 50 then 37.5 ms,
  // RTO = SRTT + 4 RTTVAR = 250 ms
  const sniffed again = expect_segment(0.850, 2001, 1001, flag::psh | flag::ack, 32768, 1000);
  EXPECT_EQ(again.payload, out2);
  // 0.950 < . 1001:1001(0) ack 3001 win 257
  d.at(0.950);
  ASSERT_EQ(d.inject(from_remote(1001, iss + 3001, flag::ack, 257)), 0);

  // 1.000 < F. 1001:1001(0) ack 3001 win 257
  // 1.000 > . 3001:3001(0) ack 1002         a FIN is acknowledged at once
  d.at(1.000);
  ASSERT_EQ(d.inject(from_remote(1001, iss + 3001, flag::fin | flag::ack, 257)), 0);
  expect_segment(1.000, 3001, 1002, flag::ack, 32768, 0);
  // 1.000 read(4, ..., 2000) = 0            EOF
  ASSERT_EQ(R_(f.read(u, 4, buf.data(), buf.size())), (outcome{0, 0}));
  // 1.100 close(4) = 0
  // 1.100 > F. 3001:3001(0) ack 1002
  d.at(1.100);
  ASSERT_EQ(R_(f.close(u, 4)), ok);
  expect_segment(1.100, 3001, 1002, flag::fin | flag::ack, 32768, 0);
  // 1.200 < . 1002:1002(0) ack 3002 win 257   LAST_ACK -> CLOSED: nothing more leaves
  d.at(1.200);
  ASSERT_EQ(d.inject(from_remote(1002, iss + 3002, flag::ack, 257)), 0);
  EXPECT_FALSE(d.sniff()) << "a segment after the last ACK";
  ASSERT_EQ(R_(f.close(u, 3)), ok);
  EXPECT_EQ(R_(f.close(u, 4)), (outcome{-1, EBADF}));
}

TEST_F(passive, a_poll_timeout_counts_on_the_virtual_clock_and_data_ends_the_wait) {
  ASSERT_NO_FATAL_FAILURE(open());
  // On packetdrill's syscall thread, "+0...0.100 poll([{fd=4, events=POLLIN}], 1, 100) = 0": nothing
  // arrives, the main thread moves the clock (1 ms a step), the call returns once 100 ms passed.
  auto blocking_poll = [&](int timeout_ms, int inject_after_ms) {
    std::atomic<bool> done{false};
    std::atomic<pid_t> tid{0};
    pollfd p{4, POLLIN, 0};
    outcome r{};
    long long began = 0, ended = 0;
    std::thread syscall_thread([&] {
      began = d.now_usecs();
      tid = gettid();
      r = R_(f.poll(u, &p, 1, timeout_ms));
      ended = d.now_usecs();
      done = true;
    });
    // Each step only once the syscall thread sleeps (in the call, or done): the clock never runs on
    // while the thread that returned waits for the lock to read it.
    for (int step = 0; so_driver::thread_blocked(tid, &done) && !done && step < 5000; ++step) {
      if (step == inject_after_ms) {
        const bytes data = text("x");
        EXPECT_EQ(d.inject(from_remote(1, iss + 1, flag::psh | flag::ack, 257, data)), 0);
      }
      f.usleep(u, 1000);
    }
    syscall_thread.join();
    struct result {
      outcome r;
      short revents;
      long long waited_usecs;
    };
    return result{r, p.revents, ended - began};
  };
  const auto quiet = blocking_poll(100, -1);   // no data
  EXPECT_EQ(quiet.r, (outcome{0, 0}));
  EXPECT_EQ(quiet.revents, 0);
  EXPECT_GE(quiet.waited_usecs, 100'000);
  EXPECT_LE(quiet.waited_usecs, 101'100);   // the step that crossed the deadline, and a few clock reads
  const auto woken = blocking_poll(1000, 5);   // a byte arrives 5 ms (of steps) in
  EXPECT_EQ(woken.r, (outcome{1, 0}));
  EXPECT_EQ(woken.revents, POLLIN);
  EXPECT_LE(woken.waited_usecs, 7'000);
}

// google/packetdrill gtests/net/tcp/blocking/blocking-accept.pkt, line by line (our transcription):
// a blocking accept on packetdrill's second thread ("+0...0.200": it must return at 0.200) while the
// main thread injects the handshake. The script expects window scale 8 (a newer Linux's receive
// buffer): `--so_flags=rcvbuf=8388608` makes ours offer that.
TEST(so_driver, googles_blocking_accept_pkt) {
  so_driver d("rcvbuf=8388608");
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  ASSERT_NO_FATAL_FAILURE(listen_on_8080(f, u));
  //    +0...0.200 accept(3, ..., ...) = 4     on the syscall thread; it reads the clock when it returns
  std::atomic<pid_t> tid{0};
  outcome accepted{};
  long long returned_at = 0;
  std::thread syscall_thread([&] {
    tid = gettid();
    accepted = R_(f.accept(u, 3, nullptr, nullptr));
    returned_at = d.now_usecs();
  });
  EXPECT_TRUE(so_driver::thread_blocked(tid));   // packetdrill goes on once its syscall thread sleeps

  //   +.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
  //    +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
  d.at(0.100);
  const wire::tcp::options_repr syn_opts = tcp_options(1000, false, 7);
  ASSERT_EQ(d.inject(from_remote(0, 0, flag::syn, 32792, {}, syn_opts)), 0);
  const auto synack = d.sniff();
  ASSERT_TRUE(synack);
  EXPECT_EQ(synack->t_usecs, d.script_usecs(0.100));
  EXPECT_EQ(synack->seg.flags, flag::syn | flag::ack);
  EXPECT_EQ(synack->seg.ack, 1u);
  // 8 MiB >> 8 = 32768: the smallest shift that announces it all
  const wire::tcp::options_repr want = tcp_options(1460, false, 8);
  EXPECT_EQ(synack->seg.opts, want);
  const std::uint32_t iss = synack->seg.seq;
  //   +.1 < . 1:1(0) ack 1 win 257
  d.at(0.200);
  ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::ack, 257)), 0);
  syscall_thread.join();
  EXPECT_EQ(accepted, (outcome{4, 0}));
  EXPECT_GE(returned_at, d.script_usecs(0.200));
  EXPECT_LE(returned_at, d.script_usecs(0.200) + 10);   // a few clock reads later, well inside tolerance

  //   +.1 write(4, ..., 200) = 200
  //    +0 > P. 1:201(200) ack 1
  d.at(0.300);
  const bytes out = pattern(200, 9);
  ASSERT_EQ(R_(f.write(u, 4, out.data(), out.size())), (outcome{200, 0}));
  const auto data = d.sniff();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->t_usecs, d.script_usecs(0.300));
  EXPECT_EQ(data->seg.flags, flag::psh | flag::ack);
  EXPECT_EQ(data->seg.seq, iss + 1);
  EXPECT_EQ(data->seg.ack, 1u);
  EXPECT_EQ(data->payload, out);
  //   +.1 < P. 1:11(10) ack 1 win 257
  //    +0 read(4, ..., 10) = 10
  d.at(0.400);
  const bytes in = pattern(10, 4);
  ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::psh | flag::ack, 257, in)), 0);
  bytes buf(10);
  ASSERT_EQ(R_(f.read(u, 4, buf.data(), buf.size())), (outcome{10, 0}));
  EXPECT_EQ(buf, in);
}

// google/packetdrill gtests/net/tcp/blocking/blocking-connect.pkt, line by line: a blocking connect
// on packetdrill's second thread from 0.1 ("+.1...0.200": it must return at 0.200).
TEST(so_driver, googles_blocking_connect_pkt) {
  so_driver d("rcvbuf=8388608");
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  //     0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, IPPROTO_TCP)), (outcome{3, 0}));
  //   +.1...0.200 connect(3, ..., ...) = 0
  d.at(0.100);
  const sockaddr_in to = addr(remote_ip, 8080);
  outcome connected{};
  long long returned_at = 0;
  std::thread syscall_thread([&] {
    connected = R_(f.connect(u, 3, sa(to), sizeof to));
    returned_at = d.now_usecs();
  });
  // As packetdrill waits for its syscall thread to block: here, until the socket is in SYN_SENT
  // (poll then reports nothing; an unconnected socket reports POLLOUT | POLLHUP).
  for (pollfd p{3, POLLOUT, 0}; f.poll(u, &p, 1, 0) != 0; p.revents = 0) std::this_thread::yield();
  //    +0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
  const auto syn = d.sniff();
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->t_usecs, d.script_usecs(0.100));
  EXPECT_EQ(syn->seg.flags, flag::syn);
  ASSERT_TRUE(syn->seg.opts.ts);
  // packetdrill checks no TS val by default: ours is taken as it is
  const wire::tcp::options_repr want = tcp_options(1460, true, 8, wire::tcp::timestamps{syn->seg.opts.ts->value, 0});
  EXPECT_EQ(syn->seg.opts, want);
  //   +.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>
  //    +0 > . 1:1(0) ack 1
  d.at(0.200);
  wire::tcp::repr synack =
      from_remote(0, syn->seg.seq + 1, flag::syn | flag::ack, 5792, {}, tcp_options(1460, true, 2), syn->seg.src_port);
  synack.src_port = 8080;
  ASSERT_EQ(d.inject(synack), 0);
  const auto ack = d.sniff();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->t_usecs, d.script_usecs(0.200));
  EXPECT_EQ(ack->seg.flags, flag::ack);
  EXPECT_EQ(ack->seg.seq, syn->seg.seq + 1);
  EXPECT_EQ(ack->seg.ack, 1u);
  EXPECT_FALSE(ack->seg.opts.ts);   // the SYN-ACK offered none
  syscall_thread.join();
  EXPECT_EQ(connected, ok);
  EXPECT_GE(returned_at, d.script_usecs(0.200));
  EXPECT_LE(returned_at, d.script_usecs(0.200) + 10);
}

// google/packetdrill gtests/net/tcp/close/close-remote-fin-then-close.pkt, line by line: the peer
// closes first (our LAST_ACK path), then a segment for the 4-tuple nobody holds gets a RST.
TEST(so_driver, googles_close_remote_fin_then_close_pkt) {
  so_driver d("rcvbuf=8388608");
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  ASSERT_NO_FATAL_FAILURE(listen_on_8080(f, u));
  auto expect = [&](double at, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags) {
    const auto s = d.sniff();
    ASSERT_TRUE(s) << "nothing at " << at;
    EXPECT_EQ(s->t_usecs, d.script_usecs(at)) << at;
    EXPECT_EQ(s->seg.seq, seq) << at;
    EXPECT_EQ(s->seg.ack, ack) << at;
    EXPECT_EQ(s->seg.flags, flags) << at;
    EXPECT_TRUE(s->payload.empty()) << at;
  };
  //    +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
  //    +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  const wire::tcp::options_repr syn_opts = tcp_options(1000, true, 7);
  ASSERT_EQ(d.inject(from_remote(0, 0, flag::syn, 32792, {}, syn_opts)), 0);
  const auto synack = d.sniff();
  ASSERT_TRUE(synack);
  const wire::tcp::options_repr want = tcp_options(1460, true, 8);
  EXPECT_EQ(synack->seg.opts, want);
  const std::uint32_t iss = synack->seg.seq;
  //    +0 < . 1:1(0) ack 1 win 257
  //    +0 accept(3, ..., ...) = 4
  ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::ack, 257)), 0);
  ASSERT_EQ(R_(f.accept(u, 3, nullptr, nullptr)), (outcome{4, 0}));
  //  +.01 < F. 1:1(0) ack 1 win 257
  //    +0 > . 1:1(0) ack 2
  d.at(0.010);
  ASSERT_EQ(d.inject(from_remote(1, iss + 1, flag::fin | flag::ack, 257)), 0);
  expect(0.010, iss + 1, 2, flag::ack);
  //  +.01 close(4) = 0
  //    +0 > F. 1:1(0) ack 2
  d.at(0.020);
  ASSERT_EQ(R_(f.close(u, 4)), ok);
  expect(0.020, iss + 1, 2, flag::fin | flag::ack);
  //  +.01 < . 2:2(0) ack 2 win 257          LAST_ACK -> CLOSED
  d.at(0.030);
  ASSERT_EQ(d.inject(from_remote(2, iss + 2, flag::ack, 257)), 0);
  //  +.01 < . 2:2(0) ack 2 win 257
  //    +0 > R 2:2(0)                         no connection: RST with SEG.ACK as its sequence
  d.at(0.040);
  ASSERT_EQ(d.inject(from_remote(2, iss + 2, flag::ack, 257)), 0);
  expect(0.040, iss + 2, 0, flag::rst);
}

// Active opens: our SYN goes to the remote's port 8080 (packetdrill's --connect_port).
struct active : ::testing::Test {
  so_driver d;
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  const sockaddr_in to = addr(remote_ip, 8080);
  sniffed syn;

  // socket(SOCK_NONBLOCK) = 3, connect = -1 EINPROGRESS, our SYN sniffed.
  void start() {
    ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)), (outcome{3, 0}));
    ASSERT_EQ(R_(f.connect(u, 3, sa(to), sizeof to)), (outcome{-1, EINPROGRESS}));
    const auto s = d.sniff();
    ASSERT_TRUE(s);
    syn = *s;
  }
  // A segment from the remote's port 8080 to the port our SYN came from.
  wire::tcp::repr from_server(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::uint16_t window,
                              std::span<const std::byte> payload = {}, wire::tcp::options_repr opts = {}) const {
    wire::tcp::repr r = from_remote(seq, ack, flags, window, payload, opts, syn.seg.src_port);
    r.src_port = 8080;
    return r;
  }
};

TEST_F(active, open_data_half_close_and_time_wait) {
  // 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
  // 0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
  // 0 connect(3, ..., ...) = -1 EINPROGRESS
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, IPPROTO_TCP)), (outcome{3, 0}));
  ASSERT_EQ(R_(f.fcntl(u, 3, F_SETFL, O_RDWR | O_NONBLOCK)), ok);
  EXPECT_EQ(R_(f.fcntl(u, 3, F_GETFL)), (outcome{O_RDWR | O_NONBLOCK, 0}));
  const long long t0 = d.now_usecs();
  ASSERT_EQ(R_(f.connect(u, 3, sa(to), sizeof to)), (outcome{-1, EINPROGRESS}));
  EXPECT_EQ(R_(f.connect(u, 3, sa(to), sizeof to)), (outcome{-1, EALREADY}));

  // 0 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 0 ecr 0,nop,wscale 3>
  const auto sniffed_syn = d.sniff();
  ASSERT_TRUE(sniffed_syn);
  syn = *sniffed_syn;
  EXPECT_EQ(syn.t_usecs, t0);
  EXPECT_EQ(syn.src, local_ip);
  EXPECT_EQ(syn.dst, remote_ip);
  EXPECT_TRUE(syn.tcp_checksum_ok);
  const std::uint16_t port = syn.seg.src_port;
  EXPECT_GE(port, 49152);   // ephemeral, IANA's range
  EXPECT_EQ(syn.seg.dst_port, 8080);
  EXPECT_EQ(syn.seg.flags, flag::syn);
  EXPECT_EQ(syn.seg.ack, 0u);
  EXPECT_EQ(syn.seg.window, 65535);
  ASSERT_TRUE(syn.seg.opts.ts);
  const wire::tcp::options_repr want = tcp_options(1460, true, 3, wire::tcp::timestamps{syn.seg.opts.ts->value, 0});
  EXPECT_EQ(syn.seg.opts, want);
  const std::uint32_t iss = syn.seg.seq, ts0 = syn.seg.opts.ts->value;

  // 0.100 < S. 0:0(0) ack 1 win 5792 <mss 1460,sackOK,TS val 700 ecr TS0,nop,wscale 7>
  // 0.100 > . 1:1(0) ack 1 <nop,nop,TS val TS0+100 ecr 700>
  d.sleep_until(t0 + 100'000);
  const wire::tcp::options_repr sa_opts = tcp_options(1460, true, 7, wire::tcp::timestamps{700, ts0});
  ASSERT_EQ(d.inject(from_server(0, iss + 1, flag::syn | flag::ack, 5792, {}, sa_opts)), 0);
  const auto ack = d.sniff();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->t_usecs, t0 + 100'000);
  EXPECT_EQ(ack->seg.flags, flag::ack);
  EXPECT_EQ(ack->seg.seq, iss + 1);
  EXPECT_EQ(ack->seg.ack, 1u);
  EXPECT_EQ(ack->seg.window, 32768);
  ASSERT_TRUE(ack->seg.opts.ts);
  EXPECT_EQ(ack->seg.opts.ts->value, ts0 + 100);   // 1 ms ticks: 100 ms later
  EXPECT_EQ(ack->seg.opts.ts->echo, 700u);
  // connect again: 0 once (Linux's inet_stream_connect), then EISCONN; SO_ERROR 0
  EXPECT_EQ(R_(f.connect(u, 3, sa(to), sizeof to)), ok);
  EXPECT_EQ(R_(f.connect(u, 3, sa(to), sizeof to)), (outcome{-1, EISCONN}));
  int err = -1;
  socklen_t len = sizeof err;
  EXPECT_EQ(R_(f.getsockopt(u, 3, SOL_SOCKET, SO_ERROR, &err, &len)), ok);
  EXPECT_EQ(err, 0);
  pollfd p{3, POLLIN | POLLOUT, 0};
  EXPECT_EQ(R_(f.poll(u, &p, 1, 0)), (outcome{1, 0}));
  EXPECT_EQ(p.revents, POLLOUT);

  // 0.200 write(3, ..., 10) = 10     > P. 1:11(10) ack 1
  d.sleep_until(t0 + 200'000);
  const bytes hello = text("0123456789");
  ASSERT_EQ(R_(f.write(u, 3, hello.data(), hello.size())), (outcome{10, 0}));
  const auto data = d.sniff();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->seg.flags, flag::psh | flag::ack);
  EXPECT_EQ(data->seg.seq, iss + 1);
  EXPECT_EQ(data->payload, hello);
  // 0.300 < P. 1:6(5) ack 11 win 46 "hello"   -> read(3, ..., 100) = 5; nothing more to read: EAGAIN
  d.sleep_until(t0 + 300'000);
  wire::tcp::options_repr ts_only = tcp_options(0, false, -1, wire::tcp::timestamps{800, data->seg.opts.ts->value});
  const bytes reply = text("hello");
  ASSERT_EQ(d.inject(from_server(1, iss + 11, flag::psh | flag::ack, 46, reply, ts_only)), 0);
  bytes buf(100);
  ASSERT_EQ(R_(f.read(u, 3, buf.data(), buf.size())), (outcome{5, 0}));
  EXPECT_EQ(bytes(buf.begin(), buf.begin() + 5), reply);
  EXPECT_EQ(R_(f.read(u, 3, buf.data(), buf.size())), (outcome{-1, EAGAIN}));

  // 0.400 shutdown(3, SHUT_WR) = 0   > F. 11:11(0) ack 6 (the delayed ACK for "hello" rides on it)
  d.sleep_until(t0 + 310'000);
  ASSERT_EQ(R_(f.shutdown(u, 3, SHUT_WR)), ok);
  const auto fin = d.sniff();
  ASSERT_TRUE(fin);
  EXPECT_EQ(fin->t_usecs, t0 + 310'000);
  EXPECT_EQ(fin->seg.flags, flag::fin | flag::ack);
  EXPECT_EQ(fin->seg.seq, iss + 11);
  EXPECT_EQ(fin->seg.ack, 6u);
  EXPECT_EQ(R_(f.write(u, 3, hello.data(), hello.size())), (outcome{-1, EPIPE}));
  // 0.500 < F. 6:6(0) ack 12   > . 12:12(0) ack 7: FIN_WAIT_2 -> TIME_WAIT
  d.sleep_until(t0 + 500'000);
  ts_only.ts = wire::tcp::timestamps{900, fin->seg.opts.ts->value};
  ASSERT_EQ(d.inject(from_server(6, iss + 12, flag::fin | flag::ack, 46, {}, ts_only)), 0);
  const auto last = d.sniff();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->t_usecs, t0 + 500'000);
  EXPECT_EQ(last->seg.flags, flag::ack);
  EXPECT_EQ(last->seg.seq, iss + 12);
  EXPECT_EQ(last->seg.ack, 7u);
  ASSERT_EQ(R_(f.read(u, 3, buf.data(), buf.size())), (outcome{0, 0}));
  ASSERT_EQ(R_(f.close(u, 3)), ok);
  // TIME_WAIT sends nothing when it ends (2 MSL = 60 s later): the clock runs there and no packet comes.
  EXPECT_FALSE(d.sniff());
}

TEST_F(active, a_refused_connect_reports_econnrefused_once) {
  ASSERT_NO_FATAL_FAILURE(start());
  // 0.010 < R. 0:0(0) ack 1 win 0
  d.sleep_until(syn.t_usecs + 10'000);
  ASSERT_EQ(d.inject(from_server(0, syn.seg.seq + 1, flag::rst | flag::ack, 0)), 0);
  pollfd p{3, POLLOUT, 0};
  EXPECT_EQ(R_(f.poll(u, &p, 1, 0)), (outcome{1, 0}));
  EXPECT_EQ(p.revents, POLLOUT | POLLERR | POLLHUP);
  int err = 0;
  socklen_t len = sizeof err;
  EXPECT_EQ(R_(f.getsockopt(u, 3, SOL_SOCKET, SO_ERROR, &err, &len)), ok);
  EXPECT_EQ(err, ECONNREFUSED);
  EXPECT_EQ(R_(f.getsockopt(u, 3, SOL_SOCKET, SO_ERROR, &err, &len)), ok);
  EXPECT_EQ(err, 0);   // read once, cleared
  EXPECT_FALSE(d.sniff());
  EXPECT_EQ(R_(f.close(u, 3)), ok);
}

TEST(so_driver, calls_that_linux_refuses_get_linuxs_errno) {
  so_driver d;
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  EXPECT_EQ(R_(f.socket(u, AF_INET6, SOCK_STREAM, 0)), (outcome{-1, EAFNOSUPPORT}));
  EXPECT_EQ(R_(f.socket(u, AF_INET, SOCK_DGRAM, 0)), (outcome{-1, ESOCKTNOSUPPORT}));
  EXPECT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, IPPROTO_UDP)), (outcome{-1, EPROTONOSUPPORT}));
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, 0)), (outcome{3, 0}));
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, 0)), (outcome{4, 0}));
  const sockaddr_in here = addr(local_ip, 8080), elsewhere = addr({10, 9, 9, 9}, 8080);
  EXPECT_EQ(R_(f.bind(u, 3, sa(elsewhere), sizeof elsewhere)), (outcome{-1, EADDRNOTAVAIL}));
  EXPECT_EQ(R_(f.bind(u, 3, sa(here), sizeof here - 1)), (outcome{-1, EINVAL}));
  ASSERT_EQ(R_(f.bind(u, 3, sa(here), sizeof here)), ok);
  EXPECT_EQ(R_(f.bind(u, 3, sa(here), sizeof here)), (outcome{-1, EINVAL}));       // bound already
  EXPECT_EQ(R_(f.bind(u, 4, sa(here), sizeof here)), (outcome{-1, EADDRINUSE}));   // 3 holds 8080
  bytes buf(10);
  EXPECT_EQ(R_(f.read(u, 3, buf.data(), buf.size())), (outcome{-1, ENOTCONN}));
  EXPECT_EQ(R_(f.write(u, 3, buf.data(), buf.size())), (outcome{-1, EPIPE}));
  EXPECT_EQ(R_(f.accept(u, 3, nullptr, nullptr)), (outcome{-1, EINVAL}));        // not listening
  EXPECT_EQ(R_(f.shutdown(u, 3, SHUT_WR)), (outcome{-1, ENOTCONN}));
  EXPECT_EQ(R_(f.shutdown(u, 3, 7)), (outcome{-1, EINVAL}));
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(R_(f.getsockopt(u, 3, IPPROTO_TCP, TCP_CONGESTION, &v, &len)), (outcome{-1, ENOPROTOOPT}));
  EXPECT_EQ(R_(f.setsockopt(u, 3, SOL_SOCKET, SO_KEEPALIVE, &v, 2)), (outcome{-1, EINVAL}));   // short optlen
  EXPECT_EQ(R_(f.ioctl(u, 3, SIOCATMARK, &v)), (outcome{-1, ENOTTY}));
  EXPECT_EQ(R_(f.fcntl(u, 3, F_GETLK)), (outcome{-1, EINVAL}));
  EXPECT_EQ(R_(f.close(u, 99)), (outcome{-1, EBADF}));
  EXPECT_EQ(R_(f.listen(u, 99, 1)), (outcome{-1, EBADF}));
  EXPECT_EQ(R_(f.epoll_create(u, 1)), (outcome{-1, ENOSYS}));
  int fds[2];
  EXPECT_EQ(R_(f.pipe(u, fds)), (outcome{-1, ENOSYS}));
  // A listener on 8080: nothing pending, non-blocking accept is EAGAIN; poll sees nothing.
  const int one = 1;
  ASSERT_EQ(R_(f.ioctl(u, 3, FIONBIO, const_cast<int*>(&one))), ok);
  ASSERT_EQ(R_(f.listen(u, 3, 1)), ok);
  EXPECT_EQ(R_(f.accept(u, 3, nullptr, nullptr)), (outcome{-1, EAGAIN}));
  pollfd p[2] = {{3, POLLIN, 0}, {98, POLLIN, 0}};
  EXPECT_EQ(R_(f.poll(u, p, 2, 0)), (outcome{1, 0}));
  EXPECT_EQ(p[0].revents, 0);
  EXPECT_EQ(p[1].revents, POLLNVAL);
  EXPECT_EQ(R_(f.connect(u, 3, sa(here), sizeof here)), (outcome{-1, EISCONN}));   // a listener
  // netdev_send refuses what is not IPv4
  bytes v6(40);
  v6[0] = std::byte{0x60};
  EXPECT_EQ(R_(f.netdev_send(u, v6.data(), v6.size())), (outcome{-1, EINVAL}));
  EXPECT_FALSE(d.sniff());   // nothing left the stack: netdev_receive gives an empty packet
}

TEST(so_driver, socket_options_read_back_as_linux_reports_them) {
  so_driver d;
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, 0)), (outcome{3, 0}));
  auto get = [&](int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(R_(f.getsockopt(u, 3, level, name, &v, &len)), ok);
    EXPECT_EQ(len, sizeof v);
    return v;
  };
  auto set = [&](int level, int name, int v) { return R_(f.setsockopt(u, 3, level, name, &v, sizeof v)); };
  EXPECT_EQ(get(IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_EQ(set(IPPROTO_TCP, TCP_NODELAY, 1), ok);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(set(SOL_SOCKET, SO_KEEPALIVE, 1), ok);
  EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(set(SOL_SOCKET, SO_RCVBUF, 65536), ok);
  EXPECT_EQ(get(SOL_SOCKET, SO_RCVBUF), 131072);   // Linux reports twice what was asked
  EXPECT_EQ(get(SOL_SOCKET, SO_SNDBUF), 262144);   // not set: the configured send buffer
  EXPECT_EQ(get(SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  EXPECT_EQ(get(SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPIDLE, 0), (outcome{-1, EINVAL}));
  EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPIDLE, 30), ok);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(set(IPPROTO_TCP, TCP_MAXSEG, 1000), ok);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_MAXSEG), 1000);
  const linger lg{1, 0};
  EXPECT_EQ(R_(f.setsockopt(u, 3, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)), ok);
  linger back{};
  socklen_t len = sizeof back;
  EXPECT_EQ(R_(f.getsockopt(u, 3, SOL_SOCKET, SO_LINGER, &back, &len)), ok);
  EXPECT_EQ(back.l_onoff, 1);
  EXPECT_EQ(back.l_linger, 0);
}

TEST_F(active, so_linger_zero_makes_close_send_rst) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(d.inject(from_server(0, syn.seg.seq + 1, flag::syn | flag::ack, 5792)), 0);
  ASSERT_TRUE(d.sniff());   // the handshake's ACK
  const linger lg{1, 0};
  ASSERT_EQ(R_(f.setsockopt(u, 3, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)), ok);
  ASSERT_EQ(R_(f.close(u, 3)), ok);
  const auto rst = d.sniff();
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->seg.flags & (flag::rst | flag::fin), flag::rst);
  EXPECT_EQ(rst->seg.seq, syn.seg.seq + 1);
}

TEST(so_driver, the_clock_moves_only_as_packetdrill_moves_it) {
  so_driver d("start_usecs=1000000 tick_usecs=2");
  EXPECT_EQ(d.now_usecs(), 1'000'004);   // the driver read it once at start: 2 us per read
  ASSERT_EQ(d.ifc.usleep(d.u(), 500), 0);
  EXPECT_EQ(d.now_usecs(), 1'000'506);
  // packetdrill's wait_for_event: usleep to 20 us before, then spin; the spin ends exactly there.
  d.at(0.001);
  EXPECT_EQ(d.now_usecs(), d.script_usecs(0.001) + 2);
}

TEST(so_driver, a_blocking_call_with_nothing_to_move_the_clock_fails_with_edeadlk) {
  so_driver d("stall_ms=50");
  packetdrill_interface& f = d.ifc;
  void* u = d.u();
  ASSERT_EQ(R_(f.socket(u, AF_INET, SOCK_STREAM, 0)), (outcome{3, 0}));
  ASSERT_EQ(R_(f.listen(u, 3, 1)), ok);   // unbound: an ephemeral port, as Linux's autobind
  EXPECT_EQ(R_(f.accept(u, 3, nullptr, nullptr)), (outcome{-1, EDEADLK}));
}

TEST(so_driver, a_bad_so_flag_ends_the_run_naming_it) {
  EXPECT_EXIT(so_driver("local_ip=10.0.0.2 sack=maybe"), ::testing::ExitedWithCode(2),
              "libringlab_packetdrill: so_flags: bad value 'maybe' for sack: expected 0 or 1");
}

}  // namespace
}  // namespace ringlab::packetdrill::testing
