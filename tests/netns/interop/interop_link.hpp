#pragma once
// The set-up every interop test shares: two namespaces the test makes (tests/support/netns.hpp, names
// with the pid, removed by destructors even when an ASSERT leaves early), one veth pair between them;
// each test moves its thread into ns "us" (test::enter) so a port opened there binds to our end.
//
//   ns us (rlu<pid>)                               ns peer (rlk<pid>)
//   ┌──────────────────────────────────┐           ┌────────────────────────────────────┐
//   │ va<pid>  NO kernel address        │◄═ veth ═►│ vb<pid>  10.77.0.2/24               │
//   │ AF_XDP / DPDK port + our stack:   │           │ the Linux kernel: ping, arping,     │
//   │ 10.77.0.1, the veth's own MAC     │           │ UDP sockets, mcast_peer, IGMP       │
//   └──────────────────────────────────┘           │ route 224.0.0.0/4 dev vb<pid>       │
//                                                  └────────────────────────────────────┘
// Our end has no kernel address: our stack owns 10.77.0.1 and answers ARP for it (arp=us), so the
// kernel never answers for it too (backends/README.md, "ARP: which mode the interop needs").
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <string>
#include <string_view>

#include "stack/iface/time.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "tests/support/netns.hpp"
#include "trace/clock.hpp"

namespace ringlab::test_interop {

inline constexpr const char* our_ip = "10.77.0.1";
inline constexpr const char* peer_ip = "10.77.0.2";
inline constexpr wire::ipv4_addr our_addr{10, 77, 0, 1};
inline constexpr wire::ipv4_addr peer_addr{10, 77, 0, 2};

// The real clock the stack runs on over a real port.
using trace::monotonic_ns;

// Without ethtool the peer veth's TX checksum offload stays on, and the kernel's UDP frames reach XDP
// with partial checksums: the tests that need finished ones skip with this reason.
inline std::string peer_checksums_unavailable() {
  auto why = netlab::program_missing("ethtool", "ethtool");
  return why.empty() ? why : why + ": cannot turn the peer veth's TX checksum offload off";
}

class interop_link {
 public:
  // Makes the namespaces and the link (our end without a kernel address: our stack owns it), then
  // moves the calling thread into ns us until the link goes, so a port opened meanwhile binds to our
  // end. Throws test::setup_error.
  interop_link() : us("rlu"), peer("rlk"), link(us, "", peer, std::string(peer_ip) + "/24") {
    must(peer.exec({"ip", "route", "add", "224.0.0.0/4", "dev", link.b_name()}), "multicast route in the peer");
    // A veth hands the kernel's UDP frames over with the checksum still partial (CHECKSUM_PARTIAL: only
    // the pseudo-header sum, "the device will finish it"), and XDP sees them so: our stack would drop
    // every one as bad_l4_checksum. A real wire carries finished checksums: make the peer compute them.
    peer_checksums = peer.exec({"ethtool", "-K", link.b_name(), "tx-checksumming", "off"}).exit_code == 0;
    // Less chatter on the wire: IPv6 autoconfiguration and MLD would only be counted as drops.
    us.exec({"sysctl", "-qw", "net.ipv6.conf." + link.a_name() + ".disable_ipv6=1"});
    peer.exec({"sysctl", "-qw", "net.ipv6.conf." + link.b_name() + ".disable_ipv6=1"});
    peer_mac = parse_mac(link.b_mac());
    our_mac = parse_mac(link.a_mac());
    ::setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);   // one XDP program per interface here (docs/machine-findings.md)
    in_us_.emplace(us);
    if (!in_us_->ok()) throw test::setup_error("cannot enter " + us.name());
  }

  // A kernel socket made inside the peer namespace (it stays there; the thread comes back).
  int peer_socket(int type) const { return test::socket_in(peer, AF_INET, type); }

  // The peer kernel's neighbour entry for our address ("" when none): "10.77.0.1 dev vb.. lladdr .. STATE".
  std::string peer_neigh() const { return peer.exec({"ip", "neigh", "show", our_ip, "dev", link.b_name()}).out; }

  test::netns us, peer;
  test::veth_pair link;
  bool peer_checksums = false;   // ethtool turned the peer's TX checksum offload off (see the constructor)
  wire::mac_addr our_mac, peer_mac;

 private:
  std::optional<test::enter> in_us_;   // last member: the thread leaves ns us before the link goes
  static void must(const test::command_result& r, const char* what) {
    if (r.exit_code != 0) throw test::setup_error(std::string(what) + " failed: " + r.err);
  }
  static wire::mac_addr parse_mac(const std::string& text) {
    const auto m = wire::mac_addr::parse(text.substr(0, 17));
    if (!m) throw test::setup_error("cannot read a MAC address from '" + text + "'");
    return *m;
  }
};

}  // namespace ringlab::test_interop
