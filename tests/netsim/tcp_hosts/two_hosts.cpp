#include "tests/netsim/tcp_hosts/two_hosts.hpp"

#include <algorithm>

namespace ringlab::netsim {

namespace {

sim::sim_nic_config nic_config(const char* name, const two_hosts_config& cfg) {
  sim::sim_nic_config c;
  c.name = name;
  c.ring_size = cfg.ring_size;
  c.pool = {.frames = cfg.pool_frames, .frame_size = 2048, .headroom = 128};
  c.tx_csum_offload = cfg.tx_csum_offload;
  return c;
}

port::any_port& top(std::unique_ptr<port::erased<port::pcap_tap<port::any_port&>>>& tap, sim::sim_nic& nic) {
  if (tap) return *tap;
  return nic.queue(0);
}

// Rounds at one virtual time with no frame moved, received or sent before the run is called stuck:
// far more than any burst of real work at one instant (a full RX burst, duplicates due together).
constexpr std::uint32_t max_idle_rounds = 1u << 16;

}  // namespace

const char* to_string(run_end e) noexcept {
  switch (e) {
    case run_end::done: return "done";
    case run_end::idle: return "idle";
    case run_end::until: return "until";
    case run_end::stuck: return "stuck";
  }
  return "?";
}

std::unique_ptr<two_hosts::tap> two_hosts::make_tap(sim::sim_nic& nic, const std::string& path) {
  if (path.empty()) return nullptr;
  return std::make_unique<tap>(nic.queue(0), path, port::tap_dir::both, [&nic] { return nic.now(); });
}

stack::interface_config two_hosts::host_config(const two_hosts_config& cfg, wire::mac_addr mac, wire::ipv4_addr ip) {
  stack::interface_config c;
  c.mac = mac;
  c.addr = ip;
  c.rx_burst = cfg.rx_burst;
  c.arp.reachable_for = cfg.arp_reachable_for;
  c.arp.max_requests = cfg.arp_max_requests;
  return c;
}

two_hosts::two_hosts(const two_hosts_config& cfg)
    : na_(nic_config("host_a", cfg)),
      nb_(nic_config("host_b", cfg)),
      wire_(na_, nb_, cfg.a_to_b, cfg.b_to_a),
      tap_a_(make_tap(na_, cfg.pcap_a)),
      tap_b_(make_tap(nb_, cfg.pcap_b)),
      ia_(top(tap_a_, na_), host_config(cfg, a_mac, a_ip)),
      ib_(top(tap_b_, nb_), host_config(cfg, b_mac, b_ip)) {}

two_hosts::~two_hosts() = default;

two_hosts::run_stats two_hosts::run(const app_fn& app, const std::function<bool()>& done, stack::time_ns until) {
  using stack::never;
  run_stats st;
  stack::time_ns app_next = now_;   // the application's first turn comes at once
  bool again_a = true, again_b = true;
  std::uint32_t idle_rounds = 0;
  for (;;) {
    stack::time_ns t = app_next;
    if (const auto d = na_.next_due()) t = std::min(t, *d);
    if (const auto d = nb_.next_due()) t = std::min(t, *d);
    t = std::min(t, again_a ? now_ : ia_.next_deadline());
    t = std::min(t, again_b ? now_ : ib_.next_deadline());
    if (t == never) {
      st.ended = run_end::idle;
      break;
    }
    t = std::max(t, now_);   // a deadline already passed: run it now
    if (t > until) {
      st.ended = run_end::until;
      break;
    }
    const std::uint64_t before = ia_.counters().rx_frames + ia_.counters().tx_frames + ib_.counters().rx_frames +
                                 ib_.counters().tx_frames;
    const bool same_time = t == now_ && st.rounds > 0;
    now_ = t;
    std::size_t moved = na_.advance_to(t);
    moved += nb_.advance_to(t);
    again_a = ia_.poll(t) <= t;
    again_b = ib_.poll(t) <= t;
    app_next = app ? app(t) : never;
    ++st.rounds;
    const std::uint64_t after = ia_.counters().rx_frames + ia_.counters().tx_frames + ib_.counters().rx_frames +
                                ib_.counters().tx_frames;
    idle_rounds = same_time && moved == 0 && after == before ? idle_rounds + 1 : 0;
    if (done && done()) {
      st.ended = run_end::done;
      break;
    }
    if (idle_rounds >= max_idle_rounds) {
      st.ended = run_end::stuck;
      break;
    }
  }
  st.end_ns = now_;
  return st;
}

void two_hosts::flush_captures() {
  if (tap_a_) tap_a_->inner().writer().flush();
  if (tap_b_) tap_b_->inner().writer().flush();
}

std::uint32_t two_hosts::frames_out_a() {
  na_.return_cache();
  return na_.pool().out();
}

std::uint32_t two_hosts::frames_out_b() {
  nb_.return_cache();
  return nb_.pool().out();
}

}  // namespace ringlab::netsim
