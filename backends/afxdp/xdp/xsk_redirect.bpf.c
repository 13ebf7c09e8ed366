// SPDX-License-Identifier: GPL-2.0 OR MIT
/* ringlab's XDP program for the AF_XDP port: redirect what the configuration selects to the AF_XDP
 * socket of the receiving queue, pass everything else to the kernel.
 *
 *   frame ──► eth (one 802.1Q tag skipped) ──► ARP?  ── RL_XSK_ARP ? socket : kernel
 *                                          └─► IPv4? ── RL_XSK_ALL_IPV4 ? socket
 *                                                       ICMP and RL_XSK_ICMP ? socket
 *                                                       UDP dst port in rl_udp_ports ? socket
 *                                                       TCP dst port in rl_tcp_ports
 *                                                         or in tcp_lo..tcp_hi ? loss? drop : socket
 *                                                       else kernel
 *
 * Seeded loss (rl_xsk_config.drop_ppm): tc netem is missing on the lab's machines, so the program
 * itself drops a share of the TCP segments it would redirect, from a per-CPU xorshift64 state that
 * user space seeds (rl_rng), and counts each drop (RL_V_LOSS). With RL_XSK_LOSS_ONLY there is no
 * socket: every TCP segment meets the loss and the survivors, like everything else, pass to the kernel
 * (the program on the peer's end of a veth: loss on the way from us to Linux).
 *
 * libxdp's default program sends every frame of the queue to the socket, ARP included, so the
 * kernel on that interface would never answer ARP again: that is why ringlab brings its own.
 * Non-first IPv4 fragments carry no L4 header; they go to the kernel unless RL_XSK_ALL_IPV4 is set.
 * An unconfigured program (rl_config[0].valid == 0) uses RL_XSK_DEFAULT_FLAGS (xsk_redirect.h). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xsk_redirect.h"

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rl_xsk_config);
} rl_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u16); /* destination port, host order */
  __type(value, __u8);
} rl_udp_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u16);
  __type(value, __u8);
} rl_tcp_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RL_V_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} rl_verdicts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} rl_rng SEC(".maps");

struct vlan_hdr_rl {
  __be16 tci;
  __be16 proto;
};

static __always_inline int count(__u32 v, int action) {
  __u64 *c = bpf_map_lookup_elem(&rl_verdicts, &v);
  if (c) *c += 1;
  return action;
}

static __always_inline int to_xsk(struct xdp_md *ctx) {
  int act = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
  return count(act == XDP_REDIRECT ? RL_V_TO_XSK : RL_V_NO_XSK, act);
}

/* Whether the seeded loss takes this segment. xorshift64 (Marsaglia): per CPU, so no atomics; one
 * run is reproducible where one CPU receives (a veth pair's traffic in one flow). */
static __always_inline int lose(const struct rl_xsk_config *cfg) {
  if (!cfg->drop_ppm) return 0;
  __u32 zero = 0;
  __u64 *st = bpf_map_lookup_elem(&rl_rng, &zero);
  if (!st) return 0;
  __u64 x = *st;
  if (!x) x = cfg->seed | 1; /* a CPU user space did not seed */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *st = x;
  return (__u32)(x >> 32) % 1000000u < cfg->drop_ppm;
}

static __always_inline int tcp_to_xsk(struct xdp_md *ctx, const struct rl_xsk_config *cfg) {
  if (lose(cfg)) return count(RL_V_LOSS, XDP_DROP);
  return to_xsk(ctx);
}

SEC("xdp")
int rl_xsk_redirect(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u32 zero = 0;
  struct rl_xsk_config *cfg = bpf_map_lookup_elem(&rl_config, &zero);
  if (!cfg) return XDP_PASS;
  const __u32 flags = cfg->valid ? cfg->flags : RL_XSK_DEFAULT_FLAGS;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return count(RL_V_PASS_OTHER, XDP_PASS);
  __be16 proto = eth->h_proto;
  void *l3 = eth + 1;
  if (proto == bpf_htons(ETH_P_8021Q)) {
    struct vlan_hdr_rl *vh = l3;
    if ((void *)(vh + 1) > end) return count(RL_V_PASS_OTHER, XDP_PASS);
    proto = vh->proto;
    l3 = vh + 1;
  }

  if (proto == bpf_htons(ETH_P_ARP)) {
    if (flags & RL_XSK_ARP) return to_xsk(ctx);
    return count(RL_V_PASS_ARP, XDP_PASS);
  }
  if (proto != bpf_htons(ETH_P_IP)) return count(RL_V_PASS_OTHER, XDP_PASS);

  struct iphdr *ip = l3;
  if ((void *)(ip + 1) > end) return count(RL_V_PASS_OTHER, XDP_PASS);
  if (flags & RL_XSK_LOSS_ONLY) {
    if (ip->protocol == IPPROTO_TCP && lose(cfg)) return count(RL_V_LOSS, XDP_DROP);
    return count(RL_V_PASS_OTHER, XDP_PASS);
  }
  if (flags & RL_XSK_ALL_IPV4) return ip->protocol == IPPROTO_TCP ? tcp_to_xsk(ctx, cfg) : to_xsk(ctx);
  if (ip->protocol == IPPROTO_ICMP && (flags & RL_XSK_ICMP)) return to_xsk(ctx);
  if (ip->frag_off & bpf_htons(0x1fff)) return count(RL_V_PASS_OTHER, XDP_PASS); /* no L4 header here */
  if (ip->ihl < 5) return count(RL_V_PASS_OTHER, XDP_PASS);
  void *l4 = (void *)ip + ip->ihl * 4;

  if (ip->protocol == IPPROTO_UDP) {
    struct udphdr *udp = l4;
    if ((void *)(udp + 1) > end) return count(RL_V_PASS_OTHER, XDP_PASS);
    __u16 port = bpf_ntohs(udp->dest);
    if (bpf_map_lookup_elem(&rl_udp_ports, &port)) return to_xsk(ctx);
  } else if (ip->protocol == IPPROTO_TCP) {
    struct tcphdr *tcp = l4;
    if ((void *)(tcp + 1) > end) return count(RL_V_PASS_OTHER, XDP_PASS);
    __u16 port = bpf_ntohs(tcp->dest);
    if ((cfg->tcp_lo && port >= cfg->tcp_lo && port <= cfg->tcp_hi) || bpf_map_lookup_elem(&rl_tcp_ports, &port))
      return tcp_to_xsk(ctx, cfg);
  }
  return count(RL_V_PASS_OTHER, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
