#include "stack/socket/udp_socket.hpp"

#include <algorithm>
#include <cstring>

#include "stack/iface/frame_releaser.hpp"
#include "stack/iface/igmp_host.hpp"
#include "stack/iface/interface.hpp"
#include "stack/iface/ip_output.hpp"
#include "stack/iface/socket_table.hpp"
#include "stack/wire/udp.hpp"

namespace ringlab::stack {

namespace {
std::error_code errc(std::errc e) noexcept { return std::make_error_code(e); }
}  // namespace

udp_socket::udp_socket(interface& ifc, std::size_t queue_depth) : udp_socket(ifc.host(), queue_depth) {}

udp_socket::udp_socket(udp_host& host, std::size_t queue_depth)
    : host_(&host), frames_(&host.frames), ttl_(host.config.default_ttl) {
  queue_.resize(queue_depth ? queue_depth : std::max<std::size_t>(host.config.socket_queue_depth, 1));
}

std::error_code udp_socket::bind_local(endpoint local) noexcept {
  if (auto ec = host_->sockets.bind_udp(*this, local); ec) return ec;
  local_ = local;
  return {};
}

udp_socket::~udp_socket() { close(); }

std::error_code udp_socket::bind(endpoint local) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (bound()) return errc(std::errc::invalid_argument);   // as bind(2) on a bound socket
  return bind_local(local);
}

std::error_code udp_socket::connect(endpoint remote) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (remote.port == 0 || remote.addr.is_unspecified()) return errc(std::errc::invalid_argument);
  if (!bound())
    if (auto ec = bind_local({}); ec) return ec;
  remote_ = remote;
  host_->sockets.changed();   // the fast path's flow memo: a connected socket now wins its flows
  return {};
}

void udp_socket::close() noexcept {
  if (!open_) return;
  while (count_) {
    const datagram& d = queue_[head_];
    frames_->give_back(d.frame, d.from_port);
    head_ = (head_ + 1) % queue_.size();
    --count_;
  }
  for (const auto g : groups_) (void)host_->groups.leave(g, frames_->now());
  groups_.clear();
  host_->sockets.unbind_udp(*this);
  local_ = remote_ = {};
  open_ = false;
}

std::error_code udp_socket::join_group(wire::ipv4_addr group, time_ns now) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (std::find(groups_.begin(), groups_.end(), group) != groups_.end()) return errc(std::errc::address_in_use);
  if (auto ec = host_->groups.join(group, now); ec) return ec;
  groups_.push_back(group);
  return {};
}

std::error_code udp_socket::leave_group(wire::ipv4_addr group, time_ns now) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  const auto it = std::find(groups_.begin(), groups_.end(), group);
  if (it == groups_.end()) return errc(std::errc::address_not_available);
  groups_.erase(it);
  return host_->groups.leave(group, now);
}

std::error_code udp_socket::send_to(std::span<const std::byte> payload, endpoint destination, time_ns now) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (destination.port == 0 || destination.addr.is_unspecified()) return errc(std::errc::invalid_argument);
  if (!bound())
    if (auto ec = bind_local({}); ec) return ec;
  const bool mcast = destination.addr.is_multicast();
  ip_output::params o;
  o.src = host_->config.addr;
  o.dst = destination.addr;
  o.proto = wire::udp::ip_protocol;
  o.ttl = mcast ? mcast_ttl_ : ttl_;
  o.loop = mcast && mcast_loop_ && host_->groups.joined(destination.addr);
  const wire::udp::repr r{local_.port, destination.port, payload};
  const auto ec = host_->out.send(o, r.buffer_len(),
                                [&](std::span<std::byte> out) { return r.emit(out, o.src, o.dst); }, now);
  if (ec) {
    ++counters_.send_errors;
    return ec;
  }
  ++counters_.sent;
  ++host_->counters.udp_sent;
  return {};
}

std::error_code udp_socket::send(std::span<const std::byte> payload, time_ns now) noexcept {
  if (!connected()) return errc(std::errc::not_connected);
  return send_to(payload, remote_, now);
}

udp_socket::received udp_socket::try_receive_from(std::span<std::byte> buf, std::error_code& ec) noexcept {
  if (!open_) {
    ec = errc(std::errc::bad_file_descriptor);
    return {};
  }
  if (count_ == 0) {
    ec = errc(std::errc::operation_would_block);
    return {};
  }
  const datagram d = queue_[head_];
  head_ = (head_ + 1) % queue_.size();
  --count_;
  received r;
  r.datagram_size = d.payload.size();
  r.bytes = std::min(buf.size(), d.payload.size());
  r.truncated = r.bytes < d.payload.size();
  r.source = d.source;
  if (r.bytes) std::memcpy(buf.data(), d.payload.data(), r.bytes);
  hop_taken(d);
  frames_->give_back(d.frame, d.from_port);
  ec = {};
  return r;
}

void udp_socket::pop_front() noexcept {
  if (count_ == 0) return;
  const datagram& d = queue_[head_];
  hop_taken(d);   // the reader (the Asio layer) copied it out of the slot
  frames_->give_back(d.frame, d.from_port);
  if (++head_ == queue_.size()) head_ = 0;
  --count_;
}

lent_frame udp_socket::try_receive_frame(std::error_code& ec) noexcept {
  if (!open_) {
    ec = errc(std::errc::bad_file_descriptor);
    return {};
  }
  if (count_ == 0) {
    ec = errc(std::errc::operation_would_block);
    return {};
  }
  const datagram d = queue_[head_];
  head_ = (head_ + 1) % queue_.size();
  --count_;
  ec = {};
  hop_taken(d);
  return lent_frame(frames_, d);
}

void udp_socket::hop_taken_traced(const datagram& d, std::source_location loc) const noexcept {
  trace::emit({.packet_id = d.frame.meta.packet_id, .t_ns = frames_->now(), .frame = d.frame.id,
               .queue = d.frame.meta.queue, .stage = trace::hop::deliver, .v = trace::verdict::deliver}, loc);
}

}  // namespace ringlab::stack
