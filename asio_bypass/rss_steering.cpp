#include "asio_bypass/rss_steering.hpp"

#include "sim_nic/sim_nic.hpp"

namespace ringlab::bypass {

namespace {
std::shared_ptr<const sim::rss_hasher> make_hasher(std::uint16_t queues, std::span<const std::uint8_t> key,
                                                   std::span<const std::uint16_t> reta) {
  auto h = std::make_shared<sim::rss_hasher>(queues, key);
  if (!reta.empty()) h->set_reta(reta);
  return h;
}

std::uint16_t queue_of(const sim::rss_hasher& h, const stack::endpoint& local, const stack::endpoint& remote) noexcept {
  // The return path: the peer is the source, we are the destination.
  return h.queue_of(h.hash(sim::make_rss_tuple(remote.addr.value, local.addr.value, remote.port, local.port)));
}
}  // namespace

rss_steering::rss_steering(std::uint16_t queues, std::span<const std::uint8_t> key, std::span<const std::uint16_t> reta,
                           bool l4)
    : h_(make_hasher(queues, key, reta)), l4_(l4) {}

rss_steering rss_steering::of(const sim::sim_nic& nic) {
  const auto& c = nic.config();
  return rss_steering(nic.queues(), c.rss_key, nic.rss().reta(), c.rss_l4);
}

std::uint16_t rss_steering::queue_of(const stack::endpoint& local, const stack::endpoint& remote) const noexcept {
  if (!l4_) {   // the 2-tuple: ports do not count
    const sim::rss_tuple t = sim::make_rss_tuple(remote.addr.value, local.addr.value, 0, 0);
    return h_->queue_of(h_->hash(sim::rss_tuple{t.bytes, 8}));
  }
  return bypass::queue_of(*h_, local, remote);
}

std::function<bool(const stack::endpoint&, const stack::endpoint&)> rss_steering::port_ok(std::uint16_t q) const {
  if (!l4_) return [](const stack::endpoint&, const stack::endpoint&) { return true; };
  auto own = std::make_shared<const sim::rss_hasher>(*h_);   // this lane's copy
  return [own, q](const stack::endpoint& local, const stack::endpoint& remote) {
    return bypass::queue_of(*own, local, remote) == q;
  };
}

}  // namespace ringlab::bypass
