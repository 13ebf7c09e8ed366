#include "tools/trace_packet_flow/cleanup.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

namespace ringlab::trace_flow::cleanup {
namespace {

constexpr std::size_t k_path = 256;
constexpr int k_ns = 4;
constexpr int k_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// One resource's life: its path is written while the slot is free, then the slot turns live
// (release: pairs with the acquire of whoever claims it). Removal claims it (live -> removing, one
// winner whichever thread or handler asks), removes, and frees it. Anyone else asking meanwhile waits
// until it is free, so no caller returns (and no handler re-raises its signal, ending the process)
// while a removal is still half done: the run that left its tracefs instance behind was a second
// signal's handler finding the first one's removal in progress and ending the process under it.
enum : int { slot_free = 0, slot_live = 1, slot_removing = 2 };

struct slot {
  char path[k_path] = {};
  std::atomic<int> state{slot_free};
};

slot instance;
slot mount_point;
slot netns[k_ns];
std::atomic<int> marker_fd{-1};
std::atomic<bool> installed{false};
int fd_limit = 1024;   // highest fd + 1 the handler looks at (read at install, not in the handler)

// Async-signal-safe sleep.
void pause_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

// Blocks the four signals in this thread while a removal runs here: the handler never runs on top of
// a removal in the same thread (where waiting for it would never end). In the handler they are
// blocked already (sa_mask), so this changes nothing there. pthread_sigmask is async-signal-safe.
class hold_signals {
 public:
  hold_signals() noexcept {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : k_signals) sigaddset(&s, sig);
    pthread_sigmask(SIG_BLOCK, &s, &old_);
  }
  ~hold_signals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  hold_signals(const hold_signals&) = delete;
  hold_signals& operator=(const hold_signals&) = delete;

 private:
  sigset_t old_;
};

// Claims the slot for removal: true for exactly one caller while it is live. A caller that finds it
// being removed elsewhere waits (up to ~5 s) until that removal is done, then returns false.
bool claim(slot& s) noexcept {
  int expected = slot_live;
  if (s.state.compare_exchange_strong(expected, slot_removing, std::memory_order_acq_rel)) return true;
  for (int i = 0; i < 2500 && s.state.load(std::memory_order_acquire) == slot_removing; ++i) pause_ms(2);
  return false;
}
void done(slot& s) noexcept { s.state.store(slot_free, std::memory_order_release); }

// dst = a + b, bounded; false (dst empty) when it would not fit.
bool join(char* dst, std::size_t cap, const char* a, const char* b) noexcept {
  const std::size_t n = std::strlen(a), m = std::strlen(b);
  if (n + m + 1 > cap) { dst[0] = '\0'; return false; }
  std::memcpy(dst, a, n);
  std::memcpy(dst + n, b, m + 1);
  return true;
}

bool set_path(slot& s, const char* value) noexcept {
  if (s.state.load(std::memory_order_acquire) != slot_free) return false;
  if (!join(s.path, sizeof s.path, value, "")) return false;
  s.state.store(slot_live, std::memory_order_release);
  return true;
}

void write_str(const char* dir, const char* file, const char* value) noexcept {
  char p[k_path + 32];
  if (!join(p, sizeof p, dir, file)) return;
  const int fd = ::open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] auto w = ::write(fd, value, std::strlen(value));
  ::close(fd);
}

// Closes every descriptor of this process open on a file of the instance: an open file (the trace
// being read when the signal came, in this thread or another) keeps rmdir failing with EBUSY. Only on
// the way out (a signal), where nobody reads them any more.
void close_fds_under(const char* dir) noexcept {
  const std::size_t n = std::strlen(dir);
  char link[32], target[k_path + 64];
  for (int fd = 0; fd < fd_limit; ++fd) {
    char num[16];
    int k = 0;
    for (int v = fd; k == 0 || v > 0; v /= 10) num[k++] = static_cast<char>('0' + v % 10);
    std::memcpy(link, "/proc/self/fd/", 14);
    for (int j = 0; j < k; ++j) link[14 + j] = num[k - 1 - j];
    link[14 + k] = '\0';
    const ssize_t len = ::readlink(link, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    if (static_cast<std::size_t>(len) > n && std::memcmp(target, dir, n) == 0 && target[n] == '/') ::close(fd);
  }
}

void remove_instance(bool on_signal) noexcept {
  hold_signals hold;
  if (!claim(instance)) return;
  write_str(instance.path, "/tracing_on", "0");
  write_str(instance.path, "/events/enable", "0");
  const int fd = marker_fd.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) ::close(fd);
  if (on_signal) close_fds_under(instance.path);
  // A reader closing its file a moment later (another thread's, on the normal path) frees it: retry.
  for (int i = 0; i < 1000 && ::rmdir(instance.path) != 0 && errno == EBUSY; ++i) pause_ms(2);
  done(instance);
}

void remove_ns(slot& s) noexcept {
  hold_signals hold;
  if (!claim(s)) return;
  char p[k_path + 16];
  if (join(p, sizeof p, "/run/netns/", s.path)) {
    ::umount2(p, MNT_DETACH);
    ::unlink(p);
  }
  done(s);
}

void unmount() noexcept {
  hold_signals hold;
  if (!claim(mount_point)) return;
  ::umount2(mount_point.path, MNT_DETACH);
  ::rmdir(mount_point.path);   // our own mount point under /tmp
  done(mount_point);
}

void remove_everything(bool on_signal) noexcept {
  remove_instance(on_signal);
  for (auto& s : netns) remove_ns(s);
  unmount();
}

std::atomic<bool> ending{false};

// Runs with the four signals blocked in this thread (sa_mask), so a second signal cannot interrupt it
// here; one that reaches another thread meanwhile waits there for this one to end the process.
void on_signal(int sig) {
  const int saved_errno = errno;
  if (ending.exchange(true, std::memory_order_acq_rel)) {
    for (;;) pause_ms(1000);   // the first handler is cleaning up and ends the process when done
  }
  // Waits for any removal another thread has in progress, then takes whatever is still registered.
  remove_everything(true);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);   // pending until the unblock below: then the default action ends the process
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  errno = saved_errno;   // not reached for the four signals (their default action ends the process)
}

}  // namespace

void install_signal_handlers() {
  if (installed.exchange(true)) return;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    fd_limit = static_cast<int>(rl.rlim_cur < 65536 ? rl.rlim_cur : 65536);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : k_signals) sigaddset(&sa.sa_mask, s);   // a second signal waits until this one is handled
  for (int s : k_signals) ::sigaction(s, &sa, nullptr);
}

void set_tracefs_instance(const char* dir) {
  set_path(instance, dir);
  install_signal_handlers();
}
void set_marker_fd(int fd) { marker_fd.store(fd, std::memory_order_release); }
void remove_tracefs_instance() { remove_instance(false); }

void set_tracefs_mount(const char* root) {
  set_path(mount_point, root);
  install_signal_handlers();
}
void unmount_tracefs() { unmount(); }

void add_netns(const char* name) {
  for (auto& s : netns)
    if (set_path(s, name)) break;
  install_signal_handlers();
}

void remove_netns(const char* name) {
  for (auto& s : netns)
    if (s.state.load(std::memory_order_acquire) == slot_live && std::strcmp(s.path, name) == 0) remove_ns(s);
}

static_assert(sizeof(sigset_t) <= sizeof(unsigned long[16]));

defer_signals::defer_signals() noexcept {
  sigset_t block;
  sigemptyset(&block);
  for (int sig : k_signals) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, reinterpret_cast<sigset_t*>(old_));
}

defer_signals::~defer_signals() { pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr); }

void run_all() noexcept { remove_everything(false); }

}  // namespace ringlab::trace_flow::cleanup
