#include "asio_bypass/backend.hpp"

#include <exception>

#include "backends/probe.hpp"
#include "trace/clock.hpp"

namespace ringlab::bypass {
namespace {

class sim_device final : public device {
 public:
  sim_device(const device_options& o) : nic_(config(o)), budget_(o.ingest_budget) { nic_.load(*o.trace); }
  std::string_view backend() const noexcept override { return "sim"; }
  std::uint16_t queues() const noexcept override { return nic_.queues(); }
  port::any_port& queue(std::uint16_t q) noexcept override { return nic_.queue(q); }
  port::frame_pool& pool() noexcept override { return nic_.pool(); }
  std::function<stack::time_ns()> clock() override {
    return [n = &nic_] { return n->now(); };
  }
  std::function<std::size_t(stack::time_ns)> ingest() override {
    // AFAP on the virtual clock: each step moves one burst, advancing the clock to each frame's time.
    return [n = &nic_, b = budget_](stack::time_ns) { return n->step(b); };
  }
  bool exhausted() const override { return nic_.done(); }
  sim::sim_nic* sim_nic() noexcept override { return &nic_; }

 private:
  static sim::sim_nic_config config(const device_options& o) {
    sim::sim_nic_config c = o.sim;
    c.queues = o.queues;
    return c;
  }
  sim::sim_nic nic_;
  std::size_t budget_;
};

// A real port (AF_XDP, DPDK) opened by backends::probe: one queue, the real clock, no ingest step
// (the NIC, or the kernel in copy mode, fills the rings by itself).
class real_device final : public device {
 public:
  real_device(std::string backend, std::unique_ptr<port::any_port> p) : backend_(std::move(backend)), port_(std::move(p)) {}
  std::string_view backend() const noexcept override { return backend_; }
  std::uint16_t queues() const noexcept override { return 1; }
  port::any_port& queue(std::uint16_t) noexcept override { return *port_; }
  port::frame_pool& pool() noexcept override { return port_->pool(); }
  std::function<stack::time_ns()> clock() override {
    return [] { return stack::time_ns{trace::monotonic_ns()}; };
  }
  std::function<std::size_t(stack::time_ns)> ingest() override { return {}; }
  bool exhausted() const override { return false; }

 private:
  std::string backend_;
  std::unique_ptr<port::any_port> port_;
};

}  // namespace

bool bypass_backend_built(std::string_view name) noexcept {
  if (name == "sim") return true;
  try {
    for (const auto& b : backends::built_backends())
      if (b == name) return true;
  } catch (...) {
  }
  return false;
}

std::unique_ptr<device> open_device(const device_options& o, std::string& why) {
  why.clear();
  if (o.backend == "sim") {
    if (!o.trace) {
      why = "backend 'sim' needs a trace to replay";
      return nullptr;
    }
    try {
      return std::make_unique<sim_device>(o);
    } catch (const std::exception& e) {
      why = std::string("backend 'sim' cannot start: ") + e.what();
      return nullptr;
    }
  }
  // "afxdp", "dpdk": the ports of backends/, opened by probe (it says why not: not built, no device,
  // XDP attach refused, memlock, EAL ...).
  if (o.backend == "afxdp" || o.backend == "dpdk") {
    if (o.queues != 1) {
      why = "backend '" + o.backend + "' drives one queue here (asked for " + std::to_string(o.queues) + ")";
      return nullptr;
    }
    if (o.device.empty()) {
      why = "backend '" + o.backend + "' needs a device (an interface or a vdev)";
      return nullptr;
    }
    auto spec = backends::parse_spec(o.backend + ":" + o.device);
    if (!spec) {
      why = spec.error().reason;
      return nullptr;
    }
    auto p = backends::probe(*spec);
    if (!p) {
      why = p.error().reason;
      return nullptr;
    }
    return std::make_unique<real_device>(o.backend, std::move(*p));
  }
  why = "unknown backend '" + o.backend + "'";
  return nullptr;
}

}  // namespace ringlab::bypass
