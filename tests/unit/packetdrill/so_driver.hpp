#pragma once
// so_driver: our stand-in for packetdrill. It loads libringlab_packetdrill.so the way packetdrill's
// so_testing.c does (dlopen, dlsym "packetdrill_interface_init", one call with the --so_flags string,
// then everything through the struct) and offers what a script line needs:
//
//   at(0.100)            packetdrill's wait_for_event: usleep up to 20 us before the event, then spin
//                        on gettimeofday until it is reached
//   inject(seg)          "< S 0:0(0) ..."  an IPv4+TCP packet from the remote, through netdev_send
//   sniff()              "> S. 0:0(0) ..." the next packet the stack sent, through netdev_receive
//   ifc.socket(...) ...  the socket calls, straight through the struct
//
// The packets are built and read with the lab's wire code (tests/unit/packetdrill/packets.hpp).
#include <dlfcn.h>

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/packetdrill/packets.hpp"
#include "tools/packetdrill/packetdrill_interface.hpp"

namespace ringlab::packetdrill::testing {

// One TCP segment the stack sent, copied out of the packet it came in.
struct sniffed {
  long long t_usecs = 0;          // when it left, on the .so's clock
  wire::ipv4_addr src, dst;
  std::uint8_t ttl = 0;
  bool ip_checksum_ok = false, tcp_checksum_ok = false;
  wire::tcp::repr seg;            // its payload points into `payload` below, in every copy
  bytes payload;

  sniffed() = default;
  sniffed(const sniffed& o) { *this = o; }
  sniffed& operator=(const sniffed& o) {
    t_usecs = o.t_usecs, src = o.src, dst = o.dst, ttl = o.ttl;
    ip_checksum_ok = o.ip_checksum_ok, tcp_checksum_ok = o.tcp_checksum_ok;
    payload = o.payload;
    seg = o.seg;
    seg.payload = payload;
    return *this;
  }
};

class so_driver {
 public:
  explicit so_driver(const std::string& flags = "") {
    handle_ = dlopen(RINGLAB_PACKETDRILL_SO, RTLD_NOW | RTLD_LOCAL);   // packetdrill adds RTLD_DEEPBIND
    if (handle_ == nullptr) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto init = reinterpret_cast<packetdrill_interface_init_fn>(dlsym(handle_, "packetdrill_interface_init"));
    if (init == nullptr) throw std::runtime_error("dlsym packetdrill_interface_init: not exported");
    init(flags.c_str(), &ifc);
    start_ = now_usecs();
  }
  ~so_driver() {
    if (ifc.free) ifc.free(ifc.userdata);
    if (handle_) dlclose(handle_);
  }
  so_driver(const so_driver&) = delete;
  so_driver& operator=(const so_driver&) = delete;

  packetdrill_interface ifc{};
  void* u() const noexcept { return ifc.userdata; }

  long long now_usecs() {
    timeval tv{};
    ifc.gettimeofday(ifc.userdata, &tv, nullptr);
    return static_cast<long long>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
  }
  // Script time (seconds since the start) -> the .so's clock.
  long long script_usecs(double secs) const noexcept { return start_ + static_cast<long long>(secs * 1e6 + 0.5); }

  // As packetdrill's run.c wait_for_event: sleep to 20 us before, then spin reading the clock.
  void at(double secs) {
    const long long target = script_usecs(secs);
    for (;;) {
      const long long wait = target - now_usecs();
      if (wait <= 0) break;
      if (wait > 20) ifc.usleep(ifc.userdata, static_cast<useconds_t>(wait - 20));
    }
  }
  // Exactly to a time (no spin): for checks of when a packet left.
  void sleep_until(long long usecs) {
    const long long now = now_usecs();
    if (usecs > now) ifc.usleep(ifc.userdata, static_cast<useconds_t>(usecs - now));
  }

  int inject(const wire::tcp::repr& seg, wire::ipv4_addr src = remote_ip, wire::ipv4_addr dst = local_ip) {
    const bytes p = tcp_packet(src, dst, seg);
    return ifc.netdev_send(ifc.userdata, p.data(), p.size());
  }

  // The next TCP segment out; nullopt when the .so had none (count 0).
  std::optional<sniffed> sniff() {
    bytes buf(65536);
    std::size_t count = buf.size();
    long long t = 0;
    if (ifc.netdev_receive(ifc.userdata, buf.data(), &count, &t) != 0 || count == 0) return std::nullopt;
    buf.resize(count);
    const auto ip = wire::ipv4::view::check(buf);
    if (!ip || ip->proto() != wire::tcp::ip_protocol) return std::nullopt;
    const auto tv = wire::tcp::view::check(ip->payload());
    if (!tv) return std::nullopt;
    const auto r = wire::tcp::repr::parse(*tv, ip->src(), ip->dst(), wire::csum::offload);
    if (!r) return std::nullopt;
    sniffed s;
    s.t_usecs = t;
    s.src = ip->src();
    s.dst = ip->dst();
    s.ttl = ip->ttl();
    s.ip_checksum_ok = ip->verify_checksum();
    s.tcp_checksum_ok = tv->verify_checksum(ip->src(), ip->dst());
    s.payload.assign(r->payload.begin(), r->payload.end());
    s.seg = *r;
    s.seg.payload = s.payload;
    return s;
  }

  // As packetdrill's run_system_call.c knows its syscall thread has blocked: the thread's state in
  // /proc is 'S' (sleeping). `tid` is set by the thread (gettid()) before it makes the call; `done`
  // (when given) ends the wait too, for a call that returned instead.
  static bool thread_blocked(const std::atomic<pid_t>& tid, const std::atomic<bool>* done = nullptr) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (done && *done) return true;
      if (const pid_t t = tid.load(); t != 0) {
        std::ifstream stat("/proc/self/task/" + std::to_string(t) + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto paren = line.rfind(')');   // the command name may hold spaces; the state follows it
        if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'S') return true;
      }
      std::this_thread::yield();
    }
    return false;
  }

  // A socket call's result and errno, as a script line states them ("= -1 EAGAIN").
  struct outcome {
    long long value;
    int err;
    friend bool operator==(const outcome&, const outcome&) = default;
  };
  template <class R>
  static outcome result(R r) noexcept {
    return {static_cast<long long>(r), r < 0 ? errno : 0};
  }

 private:
  void* handle_ = nullptr;
  long long start_ = 0;
};

}  // namespace ringlab::packetdrill::testing
