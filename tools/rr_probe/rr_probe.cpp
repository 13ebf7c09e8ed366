// ringlab_rr_probe: can rr record on this machine? Checks what rr needs from the kernel, in the order
// rr meets them, and prints the first that fails as ONE line "rr: cannot record: CHECK: WHY; fix: HOW"
// (exit 1). Prints "rr: counters ok: ..." and exits 0 when the kernel side is fine; `./lab rr` then
// lets rr itself try (rr can still refuse, e.g. a CPU model it does not know).
//   1. /proc/sys/kernel/perf_event_paranoid <= 1, or CAP_PERFMON / CAP_SYS_ADMIN (root);
//   2. perf_event_open of the hardware instructions counter for this thread succeeds (a VM without a
//      virtual PMU fails here: ENOENT / EOPNOTSUPP);
//   3. the counter counts: a loop of known length reads a non-zero count (some hypervisors accept the
//      event and count nothing).
// Options (for tests): --paranoid-file PATH reads the setting from PATH instead of /proc;
// --no-caps pretends the process has no capabilities.
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

namespace {

int refuse(const char* check, const std::string& why, const char* fix) {
  std::printf("rr: cannot record: %s: %s; fix: %s\n", check, why.c_str(), fix);
  return 1;
}

// Effective capabilities from /proc/self/status (CapEff, hex).
std::uint64_t effective_caps() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string paranoid_file = "/proc/sys/kernel/perf_event_paranoid";
  bool no_caps = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--paranoid-file" && i + 1 < argc) {
      paranoid_file = argv[++i];
    } else if (a == "--no-caps") {
      no_caps = true;
    } else {
      std::fprintf(stderr, "ringlab_rr_probe: unknown argument '%s' (options: --paranoid-file PATH, --no-caps)\n",
                   argv[i]);
      return 2;
    }
  }

  // 1. perf_event_paranoid. rr opens counters for its tracees with exclude_kernel; above 1 that needs
  // CAP_PERFMON (bit 38) or CAP_SYS_ADMIN (bit 21).
  int paranoid = 0;
  {
    std::ifstream in(paranoid_file);
    if (!(in >> paranoid))
      return refuse("perf_event_paranoid", "cannot read " + paranoid_file + " (no perf events in this kernel?)",
                    "use a kernel with CONFIG_PERF_EVENTS");
  }
  const std::uint64_t caps = no_caps ? 0 : effective_caps();
  const bool privileged = (caps >> 38 & 1) || (caps >> 21 & 1);
  if (paranoid > 1 && !privileged)
    return refuse("perf_event_paranoid", "it is " + std::to_string(paranoid) +
                                             " and rr needs <= 1 without CAP_PERFMON",
                  "sudo sysctl kernel.perf_event_paranoid=1");

  // 2. The hardware instructions counter, user space only, this thread.
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_HARDWARE;
  attr.config = PERF_COUNT_HW_INSTRUCTIONS;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd < 0) {
    const int e = errno;
    std::string why = std::string("perf_event_open(PERF_COUNT_HW_INSTRUCTIONS) failed with ") + strerrorname_np(e) +
                      " (" + std::strerror(e) + ")";
    if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV)
      return refuse("hardware counters", why + ": no PMU, e.g. a VM without a virtual PMU",
                    "run on bare metal or enable the guest PMU (KVM/QEMU: -cpu host,pmu=on; VMware: "
                    "'virtualize CPU performance counters'; cloud: an instance type with a PMU)");
    if (e == EACCES || e == EPERM)
      return refuse("hardware counters", why + ": not allowed here (perf_event_paranoid, seccomp or a container)",
                    "sudo sysctl kernel.perf_event_paranoid=1, and allow perf_event_open in the container");
    return refuse("hardware counters", why, "see https://github.com/rr-debugger/rr/wiki/Will-rr-work-on-my-system");
  }

  // 3. It counts.
  ioctl(static_cast<int>(fd), PERF_EVENT_IOC_RESET, 0);
  ioctl(static_cast<int>(fd), PERF_EVENT_IOC_ENABLE, 0);
  volatile std::uint64_t sink = 0;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) sink = sink + i;
  ioctl(static_cast<int>(fd), PERF_EVENT_IOC_DISABLE, 0);
  std::uint64_t count = 0;
  const bool read_ok = read(static_cast<int>(fd), &count, sizeof count) == static_cast<ssize_t>(sizeof count);
  close(static_cast<int>(fd));
  if (!read_ok || count == 0)
    return refuse("hardware counters", "the instructions counter opens but counts nothing (a hypervisor that "
                                       "accepts the event without a real PMU)",
                  "enable the guest PMU (KVM/QEMU: -cpu host,pmu=on) or run on bare metal");
  std::printf("rr: counters ok: perf_event_paranoid %d%s, %llu instructions counted for a 1M-iteration loop\n",
              paranoid, privileged ? " (privileged)" : "", static_cast<unsigned long long>(count));
  return 0;
}
