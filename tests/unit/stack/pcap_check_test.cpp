// Frames the stack sends, written to a pcap with libpcap and dissected by tshark with checksum
// validation on: tshark must report no malformed packet and no bad checksum (an independent check
// of every header and checksum we emit).
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/stack/test_port.hpp"
#include "tests/support/preconditions.hpp"

using namespace ringlab;
using namespace ringlab::stack;
using namespace ringlab::stack::testing;

namespace {


std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

void write_pcap(const std::string& path, const std::vector<bytes>& frames) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(dead);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1;
    h.ts.tv_usec = static_cast<suseconds_t>(i);
    h.caplen = h.len = static_cast<bpf_u_int32>(frames[i].size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, reinterpret_cast<const u_char*>(frames[i].data()));
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

}  // namespace

TEST(stack_pcap, everything_we_send_dissects_cleanly_in_tshark) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("tshark", "tshark"));
  test_port port;
  for (int v : {2, 3}) {
    interface_config c;
    c.mac = me_mac;
    c.addr = me_ip;
    c.gateway = wire::ipv4_addr{10, 0, 0, 254};
    c.igmp_version = v;
    interface ifc(port, c);
    udp_socket s(ifc);
    ASSERT_FALSE(s.bind({{}, 40000}));
    const wire::ipv4_addr g{239, 1, 1, 1};
    ASSERT_FALSE(s.join_group(g, 0));                                                       // report
    port.inject(arp(wire::arp::operation::request, peer_mac, peer_ip, {}, me_ip, wire::mac_addr::broadcast()));
    bytes icmp(8 + 33);
    wire::icmp::repr{wire::icmp::type::echo_request, 9, 3, text("an odd-length ping payload 123456")}.emit(icmp);
    port.inject(ipv4(peer_ip, me_ip, wire::icmp::ip_protocol, icmp));
    port.inject(igmp_query({}, 10, v));
    ifc.poll(0);                                                                             // ARP + ICMP replies
    ifc.poll(1 * sec);                                                                       // query answer
    ASSERT_FALSE(s.send_to(text("x"), {peer_ip, 9000}, 1 * sec));                            // tiny, padded
    ASSERT_FALSE(s.send_to(bytes(1472, std::byte{0x5a}), {peer_ip, 9000}, 1 * sec));         // full MTU
    ASSERT_FALSE(s.send_to(text("odd"), {g, 5000}, 1 * sec));                                // multicast
    ASSERT_FALSE(s.send_to(text("bcast"), {wire::ipv4_addr::broadcast(), 5000}, 1 * sec));
    ASSERT_FALSE(s.leave_group(g, 1 * sec));                                                 // leave
    while (s.available()) {
      std::error_code ec;
      s.try_receive_frame(ec);
    }
  }
  ASSERT_EQ(port.pool().out(), 0u);
  ASSERT_GE(port.sent.size(), 18u);

  const std::string path = (std::filesystem::temp_directory_path() / ("ringlab-stack-" + std::to_string(::getpid()) + ".pcap")).string();
  write_pcap(path, port.sent);
  const std::string opts =
      " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE";  // ICMP and IGMP checksums are always checked
  const std::string experts = run("tshark -n -r " + path + opts +
                                  " -T fields -e frame.protocols -e _ws.expert.severity -e _ws.expert.message 2>&1");
  const std::string& protos = experts;
  std::filesystem::remove(path);
  // Lines with an expert severity are problems (tshark marks bad checksums and malformed packets).
  std::string problems;
  std::size_t lines = 0;
  for (std::size_t at = 0; at < experts.size();) {
    const std::size_t nl = experts.find('\n', at);
    const std::string line = experts.substr(at, nl - at);
    at = nl == std::string::npos ? experts.size() : nl + 1;
    if (line.empty() || line.rfind("Running as user", 0) == 0) continue;
    ++lines;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || line.find_first_not_of('\t', tab) != std::string::npos) problems += line + "\n";
  }
  EXPECT_EQ(lines, port.sent.size());
  EXPECT_TRUE(problems.empty()) << problems;
  for (const char* p : {"eth:ethertype:arp", "ip:icmp:data", "ip:igmp", "ip:udp:data"})
    EXPECT_NE(protos.find(p), std::string::npos) << p << " in\n" << protos;
}
