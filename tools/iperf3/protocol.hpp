#pragma once
// The iperf3 wire protocol, as stock iperf3 (esnet/iperf, 3.x) speaks it on its control connection,
// written from reading iperf_api.c / iperf_server_api.c / iperf_client_api.c (no code taken):
//
//   client                                   server
//   connect, 37-byte cookie  ───────────►    (idle: this is the control connection)
//                            ◄───────────    PARAM_EXCHANGE (one signed byte)
//   4-byte big-endian length + JSON params ►
//                            ◄───────────    CREATE_STREAMS   (or SERVER_ERROR + i_errno + errno)
//   P data connections, each sends the cookie first ►
//                            ◄───────────    TEST_START, TEST_RUNNING
//   data one way (reverse -R: server sends)
//   TEST_END                 ───────────►
//                            ◄───────────    EXCHANGE_RESULTS
//   length + JSON results    ───────────►
//                            ◄───────────    length + JSON results, then DISPLAY_RESULTS
//   IPERF_DONE               ───────────►    close
//
// A connection that arrives while a test runs gets ACCESS_DENIED after its cookie. Stream ids follow
// iperf3's numbering: 1, then 3, 4, 5 ... (its iperf_add_stream skips 2); the client matches our
// results to its streams by these ids, so they must agree.
//
// This file holds no Asio: the parameter and result JSON (nlohmann::json), the constants and the
// error codes. The state machine over sockets is server.hpp (and client.hpp, our scripted client).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::iperf3 {

inline constexpr std::size_t cookie_size = 37;   // 36 characters of [a-z2-7] and a NUL
inline constexpr std::uint16_t default_port = 5201;
inline constexpr std::uint32_t max_json = 1 << 20;   // a length prefix above this is a broken peer

// The control messages: one signed byte each.
enum class state : std::int8_t {
  test_start = 1,
  test_running = 2,
  test_end = 4,
  param_exchange = 9,
  create_streams = 10,
  server_terminate = 11,
  client_terminate = 12,
  exchange_results = 13,
  display_results = 14,
  iperf_start = 15,
  iperf_done = 16,
  access_denied = -1,
  server_error = -2,
};
std::string_view to_string(state s) noexcept;

// iperf3's i_errno values we send with SERVER_ERROR (iperf_api.h); the client prints its own text.
enum class ierrno : std::int32_t {
  unimplemented = 13,    // IEUNIMP: "an option you are trying to set is not implemented yet"
  blocksize = 7,         // IEBLOCKSIZE: "block size too large (maximum = %d bytes)"
  num_streams = 6,       // IENUMSTREAMS: "number of parallel streams too large (maximum = %d)"
  recv_params = 107,     // IERECVPARAMS: "unable to receive parameters from client"
};

// What we take from the client's parameters. Anything we cannot honour is refused (a refusal), never
// silently ignored.
struct test_params {
  bool reverse = false;
  std::uint32_t parallel = 1;
  std::uint32_t len = 128 * 1024;   // block size (-l); iperf3's TCP default
  double time = 10;                 // -t: the client ends the test; kept for the report
  std::uint32_t omit = 0;           // -O seconds: bytes in them are not reported
  std::uint64_t bytes = 0;          // -n (normal mode only: the client ends)
  std::uint64_t blocks = 0;         // -k (normal mode only)
  bool no_delay = false;            // -N
  std::uint32_t window = 0;         // -w: socket buffer sizes; 0: default
  std::string client_version;
};

struct refusal {
  ierrno code;
  std::string why;   // our own log line: what the client asked for that we do not do
};

struct params_result {
  std::optional<test_params> params;   // set when accepted
  std::optional<refusal> refused;      // set when not
};

inline constexpr std::uint32_t max_parallel = 128;   // iperf3's MAX_STREAMS
inline constexpr std::uint32_t max_block = 1 << 20;   // MAX_BLOCKSIZE

// Parses and checks the client's parameter JSON. Unsupported: UDP (-u), SCTP, bidirectional
// (--bidir), -n/-k with -R (the server would have to end the test), MSS (-M), congestion (-C),
// rates (-b) on TCP, fq rate, TOS, flow label, zerocopy is accepted (a client-side matter),
// --get-server-output (no text output to send), authentication.
params_result parse_params(std::string_view json);

// One stream's result as the server reports it.
struct stream_result {
  int id = 0;
  std::uint64_t bytes = 0;
  std::int64_t retransmits = -1;   // -1: we are the receiver (iperf3 sends -1 then)
  double start_time = 0, end_time = 0;
};
struct cpu_util {
  double total = 0, user = 0, system = 0;   // percent
};
// The server's results JSON: what iperf3's client requires (cpu_util_*, sender_has_retransmits,
// streams[].id/bytes/retransmits/jitter/errors/packets, start_time/end_time).
std::string results_json(const std::vector<stream_result>& streams, const cpu_util& cpu, bool server_sends);

// The client's results JSON as a scripted client sends it (and the server reads, only to check it is
// JSON with a streams array: the client's own numbers are not ours to report).
std::string client_results_json(const std::vector<stream_result>& streams, bool client_sends);
// The parameter JSON our scripted client sends (what stock iperf3 -c sends for these options).
std::string params_json(const test_params& p);

// Parses a results JSON (either side's): the streams, or nullopt with the reason.
struct parsed_results {
  std::vector<stream_result> streams;
  int sender_has_retransmits = 0;
  cpu_util cpu;
};
std::optional<parsed_results> parse_results(std::string_view json, std::string* why = nullptr);

// Wire helpers.
std::array<std::byte, 4> length_prefix(std::size_t n) noexcept;
std::uint32_t read_length(std::span<const std::byte, 4> b) noexcept;
std::array<std::byte, 9> server_error_message(ierrno code, std::int32_t err = 0) noexcept;
// iperf3's stream ids: 1, 3, 4, 5 ... for the n-th stream (0-based).
constexpr int stream_id(std::size_t n) noexcept { return n == 0 ? 1 : static_cast<int>(n) + 2; }
// A fresh cookie in iperf3's alphabet (our scripted client's; the server only compares them).
std::array<char, cookie_size> make_cookie(std::uint64_t seed);

// A kernel TCP socket's retransmitted segments (TCP_INFO tcpi_total_retrans), -1 when unknown.
std::int64_t kernel_retransmits(int fd) noexcept;

// The process's CPU use since `since` (getrusage), as percent of `wall_s`.
struct cpu_clock {
  double user_s = 0, system_s = 0;
  static cpu_clock now() noexcept;
};
cpu_util cpu_since(const cpu_clock& since, double wall_s) noexcept;

}  // namespace ringlab::iperf3
