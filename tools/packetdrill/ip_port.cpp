#include "tools/packetdrill/ip_port.hpp"

#include <array>
#include <cstring>

#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"

namespace ringlab::packetdrill {

ip_port::ip_port(const ip_port_config& cfg)
    : cfg_(cfg), pool_({.frames = cfg.frames, .frame_size = 2048, .headroom = 256}) {}

ip_port::~ip_port() {
  for (auto& f : rx_) pool_.free(f);
}

bool ip_port::queue_frame(std::span<const std::byte> l3, std::uint16_t ethertype, wire::mac_addr dst) noexcept {
  port::frame_ref f = pool_.alloc();
  if (!f.valid()) return false;
  const wire::ethernet::repr eth{.src = cfg_.peer, .dst = dst, .type = static_cast<wire::ethernet::ethertype>(ethertype)};
  const std::size_t hl = eth.emit(f.bytes);
  std::memcpy(f.bytes.data() + hl, l3.data(), l3.size());
  f.bytes = f.bytes.first(hl + l3.size());
  f.meta = {.packet_id = ++next_id_, .t_ns = now_};
  rx_.push_back(f);
  return true;
}

std::error_code ip_port::inject_ip(std::span<const std::byte> ip, stack::time_ns now) {
  // The stack checks the rest (header length, total length, checksum) and counts its drops; here
  // only what decides the frame: an IPv4 packet that fits one.
  if (ip.size() < wire::ipv4::min_header_len || (std::to_integer<unsigned>(ip[0]) >> 4) != 4 || ip.size() > cfg_.mtu)
    return std::make_error_code(std::errc::invalid_argument);
  now_ = now;
  if (!queue_frame(ip, static_cast<std::uint16_t>(wire::ethernet::ethertype::ipv4), cfg_.ours))
    return std::make_error_code(std::errc::no_buffer_space);
  ++ctr_.injected;
  return {};
}

ip_port::sent_packet ip_port::take_sent() {
  sent_packet p = std::move(sent_.front());
  sent_.pop_front();
  return p;
}

void ip_port::answer_arp(std::span<const std::byte> bytes) noexcept {
  const auto v = wire::arp::view::check(bytes);
  if (!v) return;
  const auto req = wire::arp::repr::parse(*v);
  if (!req || req->op != wire::arp::operation::request) return;
  const wire::arp::repr reply{.op = wire::arp::operation::reply,
                              .sender_mac = cfg_.peer,
                              .sender_ip = req->target_ip,
                              .target_mac = req->sender_mac,
                              .target_ip = req->sender_ip};
  std::array<std::byte, wire::arp::repr::buffer_len()> out{};
  reply.emit(out);
  if (queue_frame(out, static_cast<std::uint16_t>(wire::ethernet::ethertype::arp), req->sender_mac)) ++ctr_.arp_answered;
}

std::size_t ip_port::rx_burst(std::span<port::frame_ref> out) noexcept {
  std::size_t n = 0;
  while (n < out.size() && !rx_.empty()) {
    out[n++] = rx_.front();
    rx_.pop_front();
  }
  return n;
}

void ip_port::rx_release(std::span<const port::frame_ref> frames) noexcept { pool_.free_burst(frames); }

port::tx_batch ip_port::tx_reserve(std::size_t n) noexcept {
  std::array<port::frame_ref, port::tx_batch::max_frames> got{};
  const std::size_t k = pool_.alloc_burst({got.data(), std::min(n, got.size())});
  return port::tx_batch(this, {got.data(), k});
}

void ip_port::tx_commit(std::span<port::frame_ref> frames) noexcept {
  for (const auto& f : frames) {
    const auto eth = wire::ethernet::view::check(f.bytes);
    if (eth && eth->type() == wire::ethernet::ethertype::ipv4) {
      const auto ip = wire::ipv4::view::check(eth->payload());
      if (ip) {
        const auto l3 = eth->payload().first(ip->total_len());   // Ethernet padding cut off
        try {
          sent_.push_back({{l3.begin(), l3.end()}, now_});
          ++ctr_.sent;
        } catch (...) {
          ++ctr_.tx_other;   // out of memory: the packet is lost, as on a full qdisc
        }
      } else {
        ++ctr_.tx_other;
      }
    } else if (eth && eth->type() == wire::ethernet::ethertype::arp) {
      answer_arp(eth->payload());
    } else {
      ++ctr_.tx_other;
    }
    pool_.free(f);
  }
}

void ip_port::tx_cancel(std::span<port::frame_ref> frames) noexcept { pool_.free_burst(frames); }

port::port_caps ip_port::caps() const { return {.name = "packetdrill", .mtu = cfg_.mtu}; }

}  // namespace ringlab::packetdrill
