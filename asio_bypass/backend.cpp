#include "asio_bypass/backend.hpp"

#include <exception>

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

}  // namespace

bool bypass_backend_built(std::string_view name) noexcept { return name == "sim"; }

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
  // "afxdp", "dpdk": their ports (backends/) plug in here as open_afxdp() / open_dpdk().
  if (o.backend == "afxdp" || o.backend == "dpdk") {
    why = "backend '" + o.backend + "' is not plugged into asio_bypass yet";
    return nullptr;
  }
  why = "unknown backend '" + o.backend + "'";
  return nullptr;
}

}  // namespace ringlab::bypass
