/* Shared between xsk_redirect.bpf.c (kernel side) and afxdp_port.cpp (user side): the layout of the
 * program's configuration map and its verdict counters. C, so both compilers read the same bytes. */
#ifndef RINGLAB_XSK_REDIRECT_H
#define RINGLAB_XSK_REDIRECT_H
#include <linux/types.h>

/* rl_config[0].flags */
#define RL_XSK_ALL_IPV4   (1u << 0) /* every IPv4 packet goes to the socket */
#define RL_XSK_ARP        (1u << 1) /* ARP goes to the socket (the stack answers it) instead of the kernel */
#define RL_XSK_ICMP       (1u << 2) /* ICMP goes to the socket (the stack answers ping) */

struct rl_xsk_config {
  __u32 flags;
  __u32 valid; /* user space sets 1 with flags; while 0, RL_XSK_DEFAULT_FLAGS apply */
};

/* What an unconfigured program does: nothing for xsk_redirect.bpf.o (pass all, safe until user space
 * has written its configuration); RL_XSK_ALL_IPV4 for xsk_redirect_ipv4.bpf.o, the variant for
 * loaders that cannot write our maps, such as DPDK's net_af_xdp (xdp_prog=...): IPv4 to the socket,
 * ARP and the rest to the kernel. */
#ifndef RL_XSK_DEFAULT_FLAGS
#define RL_XSK_DEFAULT_FLAGS 0u
#endif

/* Index into rl_verdicts (per-CPU __u64 counters). */
enum rl_verdict {
  RL_V_TO_XSK = 0,     /* redirected to the socket */
  RL_V_NO_XSK,         /* matched, but no socket in the XSKMAP slot for this queue: passed to the kernel */
  RL_V_PASS_ARP,       /* ARP passed to the kernel */
  RL_V_PASS_OTHER,     /* everything else passed to the kernel */
  RL_V_COUNT
};

#endif
