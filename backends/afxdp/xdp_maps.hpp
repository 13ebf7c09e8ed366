#pragma once
// The maps of ringlab's XDP program (xdp/xsk_redirect.bpf.c) by file descriptor, and the one writer
// of its configuration and reader of its verdicts, for every loader of that program:
//
//   afxdp::port / loss_program   libxdp loads the object: the maps of the program it attached
//   dpdk::port (xdp_prog=OBJ)    DPDK's net_af_xdp loads it and keeps the bpf_object to itself: the
//                                maps of the program attached to the interface, found from the kernel
//
// Both go the same way, from a program fd: bpf_obj_get_info_by_fd -> its map ids ->
// bpf_map_get_fd_by_id -> each map's name (the kernel keeps 15 characters; ours are shorter).
// The fds are the holder's own (closed with it), so the maps outlive whoever loaded them.
#include <cstdint>
#include <string>
#include <system_error>

#include "backends/result.hpp"

namespace ringlab::backends::afxdp {

struct config;

// The XDP program's verdicts, summed over CPUs (xsk_redirect.h: rl_verdict).
struct xdp_verdicts {
  std::uint64_t to_xsk = 0, no_xsk = 0, pass_arp = 0, pass_other = 0;
  std::uint64_t lost = 0;   // TCP segments the seeded loss dropped (config::drop_ppm)
};

class program_maps {
 public:
  program_maps() = default;
  ~program_maps();
  program_maps(program_maps&& o) noexcept;
  program_maps& operator=(program_maps&& o) noexcept;
  program_maps(const program_maps&) = delete;
  program_maps& operator=(const program_maps&) = delete;

  // The maps of the loaded program prog_fd. EINVAL naming what is missing when it is not ours.
  static result<program_maps> of_program(int prog_fd);
  // The maps of ringlab's program attached (XDP, any mode, alone or under libxdp's dispatcher) to
  // ifindex in the calling thread's namespace. ENOENT when nothing is attached, EINVAL when what is
  // attached is not ringlab's program.
  static result<program_maps> of_interface(int ifindex);

  // Writes what the program sends to the socket and its seeded loss, from cfg's udp_ports,
  // tcp_ports, tcp_range_first/last, drop_ppm, drop_seed, all_ipv4, arp_to_xsk, icmp_to_xsk, plus
  // extra_flags (RL_XSK_*). The loss generator is seeded before the configuration turns loss on.
  std::error_code write(const config& cfg, std::string& why, std::uint32_t extra_flags = 0) const;
  std::error_code verdicts(xdp_verdicts& out) const noexcept;
  int xsks_map() const noexcept { return xsks_; }
  bool valid() const noexcept { return cfg_ >= 0; }

 private:
  void close_all() noexcept;
  int xsks_ = -1, cfg_ = -1, udp_ = -1, tcp_ = -1, verdicts_ = -1, rng_ = -1;
};

}  // namespace ringlab::backends::afxdp
