// ringlab mcast-recv: joins a multicast group (a kernel IGMP join, visible in /proc/net/igmp), prints
// each message's payload, and tells loss, reordering and duplicates from the sequence numbers. Ends on
// SIGINT/SIGTERM, after --count messages, or after --timeout seconds, with a summary (--json: one JSON
// object as the last line of standard output).
#include <chrono>
#include <cstdio>
#include <string>

#include "asio_bypass/asio_service.hpp"
#include "tools/mcast/endpoints.hpp"
#include "tools/mcast/options.hpp"
#include "tools/ringlab/cli.hpp"

namespace {
using namespace ringlab;

const std::vector<cli::option> opts = {
    {"group", "ADDR", "IPv4 multicast group to join (224.0.0.0/4)"},
    {"port", "N", "UDP port", "5000"},
    {"iface", "NAME", "interface to join on (default: the routing table's choice)"},
    {"count", "N", "stop after N messages (0: no limit)", "0"},
    {"timeout", "SECONDS", "stop after this long (0: no limit)", "0"},
    {"quiet", "", "count only, print no message"},
    {"show-seq", "", "print 'SEQ<tab>PAYLOAD' instead of the payload alone"},
    {"late-join", "", "count loss from the first number received, not from 0"},
    {"json", "", "also print the summary as one JSON object on standard output"},
    {"io", "epoll|uring", "the kernel backend's reactor", "epoll"},
    {"backend", "NAME", "kernel (sim, afxdp, dpdk: not built yet, fall back to kernel)", "kernel"},
};

void check(const std::string& err) {
  if (!err.empty()) throw cli::usage_error{err};
}

int run(int argc, char** argv) {
  cli::args a("mcast-recv", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("mcast-recv", "--group ADDR [options]",
                               "Joins a multicast group and prints each ringlab datagram's payload, one per line;\n"
                               "the summary (standard error) counts received, lost, reordered and duplicate\n"
                               "messages from their sequence numbers. Exit 1 when --count was not reached.",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  if (!a.has("group")) throw cli::usage_error{"--group is required (an IPv4 multicast address)"};
  mcast::recv_options o;
  check(mcast::parse_group(a.str("group"), o.group));
  o.port = static_cast<std::uint16_t>(a.u64("port", 1, 65535));
  check(mcast::parse_iface(a.str("iface"), o.ifindex));
  const std::uint64_t count = a.u64("count");
  const double timeout_s = a.real("timeout", 0, 1e6);
  check(mcast::check_io(a.str("io")));
  check(mcast::check_backend(a.str("backend")));
  o.late_join = a.has("late-join");
  const bool quiet = a.has("quiet"), show_seq = a.has("show-seq");

  auto svc = bypass::AsioService::create(
      {.backend = a.str("backend"), .io = *bypass::parse_io_mode(a.str("io")), .threads = 1});
  auto rx = mcast::make_kernel_receiver(*svc, o);
  const std::string group = mcast::ipv4_to_string(o.group);
  std::fprintf(stderr, "mcast-recv: joined %s on %s, port %u (io %s, backend %.*s)\n", group.c_str(),
               a.has("iface") ? a.str("iface").c_str() : "the default interface", o.port, a.str("io").c_str(),
               static_cast<int>(svc->backend().size()), svc->backend().data());
  if (!quiet) std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::uint64_t n = 0;
  bool count_reached = false;   // written on the loop thread, read after join()
  rx->start([&](const mcast::message& m) {
    if (!quiet) {
      if (show_seq) std::printf("%lu\t", m.header.seq);
      std::fwrite(m.payload.data(), 1, m.payload.size(), stdout);
      std::fputc('\n', stdout);
    }
    if (count != 0 && ++n >= count) {
      count_reached = true;
      svc->stop();
      return false;
    }
    return true;
  }, [&](std::string_view) { svc->stop(); });
  svc->start();
  bool timed_out = false;
  if (timeout_s > 0) {
    const auto t = std::chrono::duration<double>(timeout_s);
    if (!svc->wait_for(std::chrono::ceil<std::chrono::milliseconds>(t))) {
      timed_out = true;
      svc->stop();
    }
  }
  svc->join();

  const auto s = rx->stats();
  const char* ended = count_reached ? "count" : svc->stop_signal() ? "signal" : timed_out ? "timeout" : "error";
  std::fprintf(stderr,
               "mcast-recv: %lu received (%lu unique), %lu lost, %lu reordered, %lu duplicates, %lu stale, "
               "%lu malformed, %lu bytes, %lu errors%s%s; ended by %s\n",
               s.seq.received, s.seq.unique, s.seq.lost, s.seq.reordered, s.seq.duplicates, s.seq.stale,
               s.malformed_total(), s.bytes, s.errors, s.errors ? ": " : "", s.last_error.c_str(), ended);
  if (a.has("json")) {
    std::printf("{\"group\":\"%s\",\"port\":%u,\"received\":%lu,\"unique\":%lu,\"lost\":%lu,\"reordered\":%lu,"
                "\"duplicates\":%lu,\"stale\":%lu,\"malformed\":%lu,\"bytes\":%lu,\"errors\":%lu,"
                "\"first\":%lld,\"highest\":%lld,\"ended\":\"%s\",\"io\":\"%s\",\"backend\":\"%.*s\"}\n",
                group.c_str(), o.port, s.seq.received, s.seq.unique, s.seq.lost, s.seq.reordered,
                s.seq.duplicates, s.seq.stale, s.malformed_total(), s.bytes, s.errors,
                s.seq.first ? static_cast<long long>(*s.seq.first) : -1LL,
                s.seq.highest ? static_cast<long long>(*s.seq.highest) : -1LL, ended, a.str("io").c_str(),
                static_cast<int>(svc->backend().size()), svc->backend().data());
  }
  std::fflush(stdout);
  return (count != 0 && !count_reached) || s.errors ? cli::exit_failure : cli::exit_ok;
}

const cli::registration reg{{"mcast-recv", "join a multicast group, print messages, count loss/reorder", run}};
}  // namespace
