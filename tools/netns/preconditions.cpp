#include "tools/netns/preconditions.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tools/netns/netns.hpp"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace ringlab::netlab {
namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

const char* cap_name(int cap) {
  switch (cap) {
    case CAP_NET_ADMIN: return "CAP_NET_ADMIN";
    case CAP_NET_RAW: return "CAP_NET_RAW";
    case CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
    case CAP_IPC_LOCK: return "CAP_IPC_LOCK";
    case CAP_SYS_RESOURCE: return "CAP_SYS_RESOURCE";
    case CAP_BPF: return "CAP_BPF";
    default: return "a capability";
  }
}

bool has_capability(int cap) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (::syscall(SYS_capget, &h, d) != 0) return false;
  return (d[cap / 32].effective >> (cap % 32)) & 1u;
}

std::string mib(std::uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return b;
}

// A namespace with one veth pair inside it (both ends up), made with iproute2 alone and deleted by
// the destructor; `why` says what failed.
struct throwaway_veth {
  std::string ns, why;
  static constexpr const char* end_a = "rlprobe0";
  static constexpr const char* end_b = "rlprobe1";
  explicit throwaway_veth(int queues = 1) : ns(unique_name("rlq")) {
    const std::string nq = std::to_string(queues);
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", ns},
             {"ip", "-n", ns, "link", "add", end_a, "numrxqueues", nq, "numtxqueues", nq, "type", "veth", "peer", "name",
              end_b, "numrxqueues", nq, "numtxqueues", nq},
             {"ip", "-n", ns, "link", "set", end_a, "up"},
             {"ip", "-n", ns, "link", "set", end_b, "up"}}) {
      auto r = run(argv, output::merged);
      if (r.exit_code != 0) {
        why = "'";
        for (const auto& a : argv) why += a + (&a == &argv.back() ? "" : " ");
        why += "' fails here: " + r.out;
        while (!why.empty() && why.back() == '\n') why.pop_back();
        return;
      }
    }
  }
  ~throwaway_veth() { run({"ip", "netns", "del", ns}); }
  throwaway_veth(const throwaway_veth&) = delete;
  throwaway_veth& operator=(const throwaway_veth&) = delete;

  // Runs fn on a thread of its own that has entered the namespace (so this thread's namespace never
  // changes); fn returns the reason or "".
  template <class Fn>
  std::string inside(Fn fn) const {
    std::string out;
    std::thread t([&] {
      const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        out = "cannot enter the probe's namespace " + ns + ": " + errno_text(errno);
        if (fd >= 0) ::close(fd);
        return;
      }
      ::close(fd);
      out = fn();
    });
    t.join();
    return out;
  }
};

long sys_bpf(int cmd, bpf_attr& a) { return ::syscall(SYS_bpf, cmd, &a, sizeof a); }

// XDP_PASS on end_a: BPF_PROG_LOAD of "r0 = XDP_PASS; exit", then BPF_LINK_CREATE (detached on close).
std::string attach_xdp_pass() {
  const unsigned ifindex = ::if_nametoindex(throwaway_veth::end_a);
  if (ifindex == 0) return std::string("the probe's veth end vanished: ") + errno_text(errno);
  bpf_insn prog[2]{};
  prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K;   // r0 = XDP_PASS
  prog[0].imm = XDP_PASS;
  prog[1].code = BPF_JMP | BPF_EXIT;
  static const char license[] = "GPL";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = reinterpret_cast<std::uint64_t>(prog);
  a.insn_cnt = 2;
  a.license = reinterpret_cast<std::uint64_t>(license);
  const int prog_fd = static_cast<int>(sys_bpf(BPF_PROG_LOAD, a));
  if (prog_fd < 0) {
    const int e = errno;
    return "the kernel does not load an XDP program here (bpf BPF_PROG_LOAD: " + errno_text(e) +
           (e == EPERM ? "; needs CAP_BPF or CAP_SYS_ADMIN" : "") + ")";
  }
  bpf_attr l{};
  l.link_create.prog_fd = static_cast<std::uint32_t>(prog_fd);
  l.link_create.target_ifindex = ifindex;
  l.link_create.attach_type = BPF_XDP;
  const int link_fd = static_cast<int>(sys_bpf(BPF_LINK_CREATE, l));
  const int e = errno;
  ::close(prog_fd);
  if (link_fd < 0) return "the kernel does not attach XDP to a veth here (bpf BPF_LINK_CREATE: " + errno_text(e) + ")";
  ::close(link_fd);
  return {};
}

// An AF_XDP socket on end_a, queue `queue`, copy mode: UMEM of 4 frames, fill/completion/RX rings of 4.
std::string bind_afxdp_copy_mode_on(std::uint32_t queue) {
  const unsigned ifindex = ::if_nametoindex(throwaway_veth::end_a);
  if (ifindex == 0) return std::string("the probe's veth end vanished: ") + errno_text(errno);
  const int s = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (s < 0) {
    const int e = errno;
    return "no AF_XDP sockets here (socket(AF_XDP): " + errno_text(e) +
           (e == EAFNOSUPPORT ? "; the kernel lacks CONFIG_XDP_SOCKETS" : e == EPERM ? "; needs CAP_NET_RAW" : "") + ")";
  }
  constexpr std::size_t frame = 4096, frames = 4;
  void* area = ::mmap(nullptr, frame * frames, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::string why;
  if (area == MAP_FAILED) {
    why = "mmap of 16 KiB for the probe's UMEM: " + errno_text(errno);
  } else {
    xdp_umem_reg reg{};
    reg.addr = reinterpret_cast<std::uint64_t>(area);
    reg.len = frame * frames;
    reg.chunk_size = frame;
    const int ring = static_cast<int>(frames);
    if (::setsockopt(s, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0)
      why = "AF_XDP UMEM registration (16 KiB) fails here: " + errno_text(errno);
    else if (::setsockopt(s, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof ring) != 0 ||
             ::setsockopt(s, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof ring) != 0 ||
             ::setsockopt(s, SOL_XDP, XDP_RX_RING, &ring, sizeof ring) != 0)
      why = "AF_XDP ring set-up fails here: " + errno_text(errno);
    else {
      sockaddr_xdp sx{};
      sx.sxdp_family = AF_XDP;
      sx.sxdp_ifindex = ifindex;
      sx.sxdp_queue_id = queue;
      sx.sxdp_flags = XDP_COPY;
      if (::bind(s, reinterpret_cast<const sockaddr*>(&sx), sizeof sx) != 0)
        why = "an AF_XDP socket does not bind to a veth (queue " + std::to_string(queue) + ", copy mode) here: " +
              errno_text(errno) + (queue ? " (an older kernel's veth has no AF_XDP on queues above 0)" : "");
    }
  }
  ::close(s);
  if (area != MAP_FAILED) ::munmap(area, frame * frames);
  return why;
}

std::string bind_afxdp_copy_mode() { return bind_afxdp_copy_mode_on(0); }
std::string bind_afxdp_copy_mode_queue_1() { return bind_afxdp_copy_mode_on(1); }

// `before` when it is a reason; else what probe says, run inside a throwaway veth's namespace.
std::string then_on_a_throwaway_veth(const std::string& before, std::string (*probe)(), int queues = 1) {
  if (!before.empty()) return before;
  throwaway_veth v(queues);
  return v.why.empty() ? v.inside(probe) : v.why;
}

}  // namespace

std::string capability_missing(int cap) {
  if (has_capability(cap)) return {};
  return std::string("this process lacks ") + cap_name(cap) + " (run as root, or in CI)";
}

std::string netns_unavailable() {
  static const std::string why = [] {
    for (int cap : {CAP_SYS_ADMIN, CAP_NET_ADMIN})
      if (auto w = capability_missing(cap); !w.empty()) return "network namespaces: " + w;
    if (auto w = program_missing("ip", "iproute2"); !w.empty()) return w;
    const std::string probe = unique_name("rlp");
    auto r = run({"ip", "netns", "add", probe}, output::merged);
    if (r.exit_code != 0) return "'ip netns add' fails here: " + r.out;
    run({"ip", "netns", "del", probe});
    return std::string();
  }();
  return why;
}

std::string xdp_on_veth_unavailable() {
  static const std::string why = then_on_a_throwaway_veth(netns_unavailable(), attach_xdp_pass);
  return why;
}

std::string afxdp_unavailable() {
  static const std::string why = then_on_a_throwaway_veth(xdp_on_veth_unavailable(), bind_afxdp_copy_mode);
  return why;
}

std::string afxdp_multiqueue_unavailable() {
  static const std::string why = then_on_a_throwaway_veth(afxdp_unavailable(), bind_afxdp_copy_mode_queue_1, 2);
  return why;
}

std::string memlock_below(std::uint64_t bytes) {
  if (has_capability(CAP_IPC_LOCK)) return {};
  rlimit rl{};
  if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return "getrlimit(RLIMIT_MEMLOCK): " + errno_text(errno);
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes) return {};
  return "RLIMIT_MEMLOCK is " + mib(rl.rlim_cur) + ", below the " + mib(bytes) +
         " this needs locked, and no CAP_IPC_LOCK (raise it with `ulimit -l`, or run as root)";
}

std::string program_missing(std::string_view program, std::string_view debian_package) {
  const std::string p(program);
  const std::string missing = p + " is not installed (Debian package " + std::string(debian_package) + ")";
  if (p.find('/') != std::string::npos) return ::access(p.c_str(), X_OK) == 0 ? std::string() : missing;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    const std::string f = (dir.empty() ? std::string(".") : dir) + "/" + p;
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(f.c_str(), X_OK) == 0) return {};
  }
  return missing;
}

std::string tracefs_unavailable() {
  if (auto w = capability_missing(CAP_SYS_ADMIN); !w.empty()) return "tracefs: " + w;
  struct stat st {};
  if (::stat("/sys/kernel/tracing/instances", &st) == 0 && S_ISDIR(st.st_mode)) return {};
  char dir[] = "/tmp/ringlab-tracefs-probe-XXXXXX";
  if (!::mkdtemp(dir)) return "tracefs probe: mkdtemp: " + errno_text(errno);
  std::string why;
  if (::mount("nodev", dir, "tracefs", 0, nullptr) != 0) {
    why = "tracefs is not mounted at /sys/kernel/tracing and cannot be mounted: " + errno_text(errno);
  } else {
    if (::stat((std::string(dir) + "/instances").c_str(), &st) != 0) why = "this kernel's tracefs has no instances/";
    ::umount2(dir, MNT_DETACH);
  }
  ::rmdir(dir);
  return why;
}

std::string dpdk_eal_unavailable() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string base = ::geteuid() == 0 ? "/var/run" : (xdg && *xdg ? xdg : "/tmp");
  if (::access(base.c_str(), W_OK | X_OK) != 0)
    return "DPDK's EAL keeps its runtime directory under " + base + ", which this process cannot write (" +
           errno_text(errno) + ")";
  return {};
}

std::string not_built(std::string_view what, std::string_view packages) {
  return std::string(what) + " is not in this build: " + std::string(packages) +
         " were missing when cmake configured it (./lab installs them)";
}

bool require_all() {
  const char* v = std::getenv("RINGLAB_REQUIRE_ALL");
  return v && std::string_view(v) == "1";
}

}  // namespace ringlab::netlab
