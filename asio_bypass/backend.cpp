#include "asio_bypass/backend.hpp"

#include <exception>
#include <vector>

#include "backends/probe.hpp"
#include "port/faulty_port.hpp"
#include "port/pcap_tap.hpp"
#include "port/rx_time_shift.hpp"
#include "trace/clock.hpp"

namespace ringlab::bypass {
namespace {

class sim_device final : public device {
 public:
  sim_device(const device_options& o) : nic_(config(o)), budget_(o.ingest_budget) {
    if (o.stream) nic_.load(*o.stream);
    else nic_.load(*o.trace);
  }
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

// A real port (AF_XDP, DPDK) opened by backends::probe_queues: one port per queue (each with its own
// frame pool), the real clock, no ingest step (the NIC, or the kernel in copy mode, fills the rings).
class real_device final : public device {
 public:
  real_device(std::string backend, std::vector<std::unique_ptr<port::any_port>> p)
      : backend_(std::move(backend)), ports_(std::move(p)) {}
  std::string_view backend() const noexcept override { return backend_; }
  std::uint16_t queues() const noexcept override { return static_cast<std::uint16_t>(ports_.size()); }
  port::any_port& queue(std::uint16_t q) noexcept override { return *ports_[q]; }
  port::frame_pool& pool() noexcept override { return ports_.front()->pool(); }
  std::function<stack::time_ns()> clock() override {
    return [] { return stack::time_ns{trace::monotonic_ns()}; };
  }
  std::function<std::size_t(stack::time_ns)> ingest() override { return {}; }
  bool exhausted() const override { return false; }

 private:
  std::string backend_;
  std::vector<std::unique_ptr<port::any_port>> ports_;
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

namespace {
std::unique_ptr<device> open_bare_device(const device_options& o, std::string& why) {
  why.clear();
  if (o.backend == "sim") {
    if (!o.trace && !o.stream) {
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
    if (o.device.empty()) {
      why = "backend '" + o.backend + "' needs a device (an interface or a vdev)";
      return nullptr;
    }
    auto spec = backends::parse_spec(o.backend + ":" + o.device);
    if (!spec) {
      why = spec.error().reason;
      return nullptr;
    }
    spec->queues = o.queues;
    auto p = backends::probe_queues(*spec);
    if (!p) {
      why = p.error().reason;
      return nullptr;
    }
    return std::make_unique<real_device>(o.backend, std::move(*p));
  }
  why = "unknown backend '" + o.backend + "'";
  return nullptr;
}

}  // namespace

namespace {
// A device whose every queue is wrapped in the decorators device_options asks for, in the order
// backend.hpp gives (faults, then tap, from the device up). Each layer is an erased<> over a
// reference to the layer below: one virtual call per burst per layer, paid only when asked for.
// trace_hops adds no layer: the stack above emits port_rx, release and tx itself (a traced_port here
// made every frame's port_rx and release count twice).
class decorated_device final : public device {
 public:
  decorated_device(std::unique_ptr<device> inner, const device_options& o, std::shared_ptr<port::pcap_writer> w,
                   bool nic_rx_faults)
      : inner_(std::move(inner)), tap_(std::move(w)), nic_rx_faults_(nic_rx_faults && inner_->sim_nic()) {
    auto clk = inner_->clock();
    // A real device runs on CLOCK_MONOTONIC: its pcap gets wall-clock times (the offset read once,
    // here, at open); sim_nic's virtual clock is already the trace's own time line.
    const std::int64_t tap_offset = inner_->sim_nic() ? 0 : trace::realtime_offset_ns();
    for (std::uint16_t q = 0; q < inner_->queues(); ++q) {
      lane l;
      port::any_port* top = &inner_->queue(q);
      if (o.faults) {
        const port::fault_spec none{};
        // Seeded per queue, so two queues do not drop the same positions of their streams. No clock:
        // held frames go out when a later frame's rx time reaches them or the port goes idle, so a
        // delay never strands a frame behind a loop that sleeps.
        l.faults = std::make_unique<erased<port::faulty_port<port::any_port&>>>(
            *top, o.faults->rx ? o.faults->spec : none, o.faults->tx ? o.faults->spec : none,
            o.faults->seed.value_or(o.fault_seed) + q);
        top = l.faults.get();
      }
      if (tap_) {
        // Real device: +offset under the tap (it writes wall-clock times), -offset above it (the stack
        // sees its own clock again); transmit times come from the clock with the same offset.
        if (tap_offset) {
          l.to_wall = std::make_unique<erased<port::rx_time_shift<port::any_port&>>>(*top, tap_offset);
          top = l.to_wall.get();
        }
        auto tap_clock = tap_offset ? port::pcap_tap<port::any_port&>::clock_fn([clk, tap_offset] {
          return clk() + static_cast<std::uint64_t>(tap_offset);
        })
                                    : port::pcap_tap<port::any_port&>::clock_fn(clk);
        l.tap = std::make_unique<erased<port::pcap_tap<port::any_port&>>>(*top, tap_, port::tap_dir::both,
                                                                            std::move(tap_clock));
        top = l.tap.get();
        if (tap_offset) {
          l.from_wall = std::make_unique<erased<port::rx_time_shift<port::any_port&>>>(*top, -tap_offset);
          top = l.from_wall.get();
        }
      }
      l.top = top;
      lanes_.push_back(std::move(l));
    }
  }
  ~decorated_device() override {
    lanes_.clear();   // the decorators give held frames back to the inner ports before those go
    if (tap_) tap_->close();
  }
  std::string_view backend() const noexcept override { return inner_->backend(); }
  std::uint16_t queues() const noexcept override { return inner_->queues(); }
  port::any_port& queue(std::uint16_t q) noexcept override { return *lanes_[q].top; }
  port::frame_pool& pool() noexcept override { return inner_->pool(); }
  std::function<stack::time_ns()> clock() override { return inner_->clock(); }
  std::function<std::size_t(stack::time_ns)> ingest() override { return inner_->ingest(); }
  bool exhausted() const override { return inner_->exhausted(); }
  sim::sim_nic* sim_nic() noexcept override { return inner_->sim_nic(); }
  decorator_counters decorators() override {
    decorator_counters c;
    if (nic_rx_faults_) add(c.rx_faults, inner_->sim_nic()->counters().rx_faults);   // sim: the NIC's own
    for (auto& l : lanes_)
      if (l.faults) {
        auto& f = l.faults->inner();
        if (!nic_rx_faults_) add(c.rx_faults, f.rx_counters());   // else its rx side only passes frames on
        add(c.tx_faults, f.tx_counters());
        c.dup_no_room += f.dup_no_room();
      }
    if (tap_) {
      tap_->flush();
      c.tap_frames = tap_->written();
      c.tap_error = tap_->error();
    }
    return c;
  }

 private:
  template <class P>
  using erased = port::erased<P>;
  struct lane {
    std::unique_ptr<erased<port::faulty_port<port::any_port&>>> faults;
    std::unique_ptr<erased<port::rx_time_shift<port::any_port&>>> to_wall;     // real devices: under the tap
    std::unique_ptr<erased<port::pcap_tap<port::any_port&>>> tap;
    std::unique_ptr<erased<port::rx_time_shift<port::any_port&>>> from_wall;   // and above it
    port::any_port* top = nullptr;
    // Outer layers first: each refers to the one below.
    lane() = default;
    lane(lane&&) = default;
    lane& operator=(lane&&) = default;
    ~lane() { from_wall.reset(); tap.reset(); to_wall.reset(); faults.reset(); }
  };
  static void add(port::fault_counters& a, const port::fault_counters& b) {
    a.in += b.in, a.out += b.out, a.dropped += b.dropped, a.duplicated += b.duplicated;
    a.reordered += b.reordered, a.corrupted += b.corrupted, a.delayed += b.delayed;
  }

  std::unique_ptr<device> inner_;   // declared first: destroyed last
  std::shared_ptr<port::pcap_writer> tap_;
  bool nic_rx_faults_ = false;   // sim_nic applies the receive faults (open_device)
  std::vector<lane> lanes_;
};
}  // namespace

std::unique_ptr<device> open_device(const device_options& o, std::string& why) {
  std::shared_ptr<port::pcap_writer> w;
  if (!o.tap.empty()) {   // before the device: a tap that cannot be written opens nothing
    w = std::make_shared<port::pcap_writer>();
    if (!w->open(o.tap, &why)) {
      why = "tap " + why;
      return nullptr;
    }
  }
  // On the simulated NIC the receive faults are sim_nic's own (between the trace and its rings, on its
  // virtual clock): a held frame is then late in time, as on a wire. A faulty_port above a device has
  // no clock and sees a whole burst at once, so it can drop, duplicate and corrupt but not reorder
  // what one burst carries. Real devices get the faulty_port (transmit faults: the faulty_port always).
  device_options opts = o;
  const bool nic_rx = o.backend == "sim" && o.faults && o.faults->rx && o.sim_nic_rx_faults;
  if (nic_rx) {
    opts.sim.rx_faults = o.faults->spec;
    opts.sim.seed = o.faults->seed.value_or(o.fault_seed);
    opts.faults->rx = false;
  }
  auto d = open_bare_device(opts, why);
  if (!d || (!w && !opts.faults)) return d;
  return std::make_unique<decorated_device>(std::move(d), opts, std::move(w), nic_rx);
}

}  // namespace ringlab::bypass
