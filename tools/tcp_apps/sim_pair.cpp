#include "tools/tcp_apps/sim_pair.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "asio_bypass/rss_steering.hpp"
#include "stack/iface/interface_config.hpp"

namespace ringlab::tcp_apps {

namespace {

sim::sim_nic_config nic_config(const char* name, std::uint16_t queues) {
  if (queues == 0) throw std::invalid_argument("sim_pair: the server needs at least one lane");
  sim::sim_nic_config c;
  c.name = name;
  c.queues = queues;
  c.ring_size = 2048;
  c.pool = {.frames = 16384, .frame_size = 2048, .headroom = 128};
  return c;
}

sim::link_config link(const sim_pair_config& cfg, std::uint64_t seed) {
  return {.latency_ns = cfg.latency_ns, .bandwidth_bps = cfg.bandwidth_bps, .faults = cfg.faults.value_or(port::fault_spec{}),
          .seed = seed};
}

// A plausible date for the pcap's first frame (2023-11-14), never the wall clock: the same run gives
// the same capture bytes.
constexpr stack::time_ns epoch_ns = 1'700'000'000 * stack::sec;
// Rounds at one virtual time with nothing moving before the run is called stuck.
constexpr std::uint32_t max_idle_rounds = 1u << 16;

}  // namespace

const char* to_string(sim_end e) noexcept {
  switch (e) {
    case sim_end::done: return "done";
    case sim_end::idle: return "idle";
    case sim_end::until: return "time limit";
    case sim_end::stuck: return "stuck";
  }
  return "?";
}

sim_pair::sim_pair(const sim_pair_config& cfg) : na_(nic_config("client", 1)), nb_(nic_config("server", cfg.server_lanes)) {
  wire_ = std::make_unique<sim::wire>(na_, nb_, link(cfg, cfg.seed), link(cfg, cfg.seed + 100));
  na_.advance_to(epoch_ns);
  nb_.advance_to(epoch_ns);
  start_ = now_ = epoch_ns;
  if (!cfg.tap.empty()) {
    auto w = std::make_shared<port::pcap_writer>();
    std::string why;
    if (!w->open(cfg.tap, &why)) throw std::system_error(std::make_error_code(std::errc::io_error), "--tap: " + why);
    tap_ = std::make_unique<tap>(na_.queue(0), std::move(w), port::tap_dir::both, [n = &na_] { return n->now(); });
  }
  const wire::mac_addr client_mac{0x02, 0, 0, 0, 0, 0x01}, server_mac{0x02, 0, 0, 0, 0, 0x02};
  auto host = [](wire::mac_addr mac, wire::ipv4_addr ip) {
    stack::interface_config c;
    c.mac = mac;
    c.addr = ip;
    c.prefix_len = 24;
    // ARP is not what these runs show: entries stay, and resolution keeps asking on a lossy wire.
    c.arp.reachable_for = 3600 * stack::sec;
    c.arp.max_requests = 30;
    return c;
  };
  a_ = std::make_unique<lane>();
  a_->svc = &asio::use_service<bypass::bypass_service>(a_->ctx);
  bypass::lane_config c;
  c.iface = host(client_mac, client_ip);
  c.drive = bypass::drive_mode::manual;
  c.clock = [n = &na_] { return n->now(); };
  if (auto ec = a_->svc->attach(tap_ ? static_cast<port::any_port&>(*tap_) : na_.queue(0), c))
    throw std::system_error(ec, "attach");
  a_->svc->start();
  // Host B: a lane per queue. The NIC gives ARP to queue 0 only, so lanes 1.. know the client from a
  // static entry (tcp_lanes' neighbours); lane 0 answers the client's ARP request.
  bypass::tcp_lanes_options o;
  o.iface = host(server_mac, server_ip);
  o.drive = bypass::drive_mode::manual;
  o.clock = [n = &nb_] { return n->now(); };
  o.rss = bypass::rss_steering::of(nb_);
  o.neighbours = {{client_ip, client_mac}};
  o.seed = cfg.seed;
  std::vector<bypass::lane_port> ports;
  for (std::uint16_t q = 0; q < nb_.queues(); ++q) ports.push_back({&nb_.queue(q), {}});
  b_ = std::make_unique<bypass::tcp_lanes>(std::move(ports), std::move(o));
  for (std::size_t q = 0; q < b_->size(); ++q) b_->service(q).start();
}

sim_pair::~sim_pair() {
  a_.reset();   // the stacks give their frames back before the taps and NICs go
  b_.reset();
  tap_.reset();
}

sim_pair::run_stats sim_pair::run(const std::function<bool()>& done, stack::time_ns limit_ns, stack::time_ns every_ns,
                                  const std::function<void(stack::time_ns)>& tick) {
  using stack::never;
  run_stats st;
  bool again_a = true, again_b = true, handlers = true;
  stack::time_ns next_tick = every_ns ? now_ + every_ns : never;
  std::uint32_t idle_rounds = 0;
  auto frames = [this] {
    const auto& ca = a_->svc->iface().counters();
    std::uint64_t n = ca.rx_frames + ca.tx_frames;
    for (std::size_t q = 0; q < b_->size(); ++q) {
      const auto& cb = b_->iface_counters(q);
      n += cb.rx_frames + cb.tx_frames;
    }
    return n;
  };
  for (;;) {
    stack::time_ns t = handlers || again_a || again_b ? now_ : never;
    if (const auto d = na_.next_due()) t = std::min(t, *d);
    if (const auto d = nb_.next_due()) t = std::min(t, *d);
    t = std::min(t, a_->svc->iface().next_deadline());
    for (std::size_t q = 0; q < b_->size(); ++q) t = std::min(t, b_->service(q).iface().next_deadline());
    if (t == never) {
      st.ended = sim_end::idle;
      break;
    }
    t = std::max(t, now_);
    while (t >= next_tick) {   // --stats at its own virtual times, before the round that passes it
      if (tick) tick(next_tick - start_);
      next_tick += every_ns;
    }
    if (t - start_ > limit_ns) {
      st.ended = sim_end::until;
      break;
    }
    const std::uint64_t before = frames();
    const bool same_time = t == now_ && st.rounds > 0;
    now_ = t;
    std::size_t moved = na_.advance_to(t);
    moved += nb_.advance_to(t);
    again_a = a_->svc->poll_once() <= t;
    again_b = false;
    for (std::size_t q = 0; q < b_->size(); ++q) again_b = (b_->service(q).poll_once() <= t) || again_b;
    // The application's turn: handlers the polls made ready (manual drive posts them), and what
    // those handlers post in turn.
    a_->ctx.restart();
    std::size_t ran = a_->ctx.poll();
    for (std::size_t q = 0; q < b_->size(); ++q) {
      b_->context(q).restart();
      ran += b_->context(q).poll();
    }
    handlers = ran > 0;
    ++st.rounds;
    idle_rounds = same_time && moved == 0 && ran == 0 && frames() == before ? idle_rounds + 1 : 0;
    if (done && done()) {
      st.ended = sim_end::done;
      break;
    }
    if (idle_rounds >= max_idle_rounds) {
      st.ended = sim_end::stuck;
      break;
    }
  }
  st.elapsed_ns = now_ - start_;
  return st;
}

std::uint64_t sim_pair::tap_frames() const {
  if (!tap_) return 0;
  tap_->inner().writer().flush();
  return tap_->inner().writer().written();
}

std::uint32_t sim_pair::frames_out() {
  na_.return_cache();
  nb_.return_cache();
  return na_.pool().out() + nb_.pool().out();
}

}  // namespace ringlab::tcp_apps
