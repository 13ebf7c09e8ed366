/* Shared between xsk_redirect.bpf.c (kernel side) and afxdp_port.cpp (user side): the layout of the
 * program's configuration map and its verdict counters. C, so both compilers read the same bytes. */
#ifndef RINGLAB_XSK_REDIRECT_H
#define RINGLAB_XSK_REDIRECT_H
#include <linux/types.h>

/* rl_config[0].flags */
#define RL_XSK_ALL_IPV4   (1u << 0) /* every IPv4 packet goes to the socket */
#define RL_XSK_ARP        (1u << 1) /* ARP goes to the socket (the stack answers it) instead of the kernel */
#define RL_XSK_ICMP       (1u << 2) /* ICMP goes to the socket (the stack answers ping) */
#define RL_XSK_LOSS_ONLY  (1u << 3) /* no socket: only the seeded loss below, on every TCP segment; the
                                     * rest passes (the program on a PEER's interface: loss the other way) */

struct rl_xsk_config {
  __u32 flags;
  __u32 valid; /* user space sets 1 with flags; while 0, RL_XSK_DEFAULT_FLAGS apply */
  /* TCP destination ports tcp_lo..tcp_hi (host order, inclusive) go to the socket as rl_tcp_ports do:
   * the ephemeral range our active opens take, whose return traffic a port set cannot name ahead.
   * tcp_lo == 0: no range. */
  __u16 tcp_lo, tcp_hi;
  /* Seeded loss: of the TCP segments the program would send to the socket, drop drop_ppm per million
   * (XDP_DROP, counted RL_V_LOSS). The generator is a per-CPU xorshift64 state in rl_rng that user
   * space seeds from `seed` when it writes this entry (bpf_get_prandom_u32 cannot be seeded). */
  __u32 drop_ppm;
  __u64 seed;
};

/* What an unconfigured program does: nothing for xsk_redirect.bpf.o (pass all, safe until user space
 * has written its configuration); RL_XSK_ALL_IPV4 for xsk_redirect_ipv4.bpf.o, the variant for
 * loaders that do not write our maps, such as DPDK's net_af_xdp (xdp_prog=...) on its own: IPv4 to
 * the socket, ARP and the rest to the kernel (dpdk::config::xdp writes them after the start). */
#ifndef RL_XSK_DEFAULT_FLAGS
#define RL_XSK_DEFAULT_FLAGS 0u
#endif

/* Index into rl_verdicts (per-CPU __u64 counters). */
enum rl_verdict {
  RL_V_TO_XSK = 0,     /* redirected to the socket */
  RL_V_NO_XSK,         /* matched, but no socket in the XSKMAP slot for this queue: passed to the kernel */
  RL_V_PASS_ARP,       /* ARP passed to the kernel */
  RL_V_PASS_OTHER,     /* everything else passed to the kernel */
  RL_V_LOSS,           /* TCP segments dropped by the seeded loss (rl_xsk_config.drop_ppm) */
  RL_V_COUNT
};

#endif
