#include "tools/trace_packet_flow/cleanup.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace ringlab::trace_flow::cleanup {
namespace {

constexpr int k_path = 256;
constexpr int k_ns = 4;

// Written by the main thread before the resource exists, read by the handler: a slot is live when
// its first byte is non-zero. std::atomic<bool> flags order the writes (release) before the handler's
// read (acquire).
char instance_dir[k_path];
std::atomic<bool> instance_live{false};
std::atomic<int> marker_fd{-1};
char mount_root[k_path];
std::atomic<bool> mount_live{false};
char ns_names[k_ns][64];
std::atomic<bool> ns_live[k_ns];
std::atomic<bool> installed{false};

// Copies src into dst[0, cap), cut to fit and always terminated (async-signal-safe: strnlen, memcpy).
// Returns the bytes copied.
std::size_t copy_cut(char* dst, std::size_t cap, const char* src) noexcept {
  const std::size_t n = ::strnlen(src, cap - 1);
  std::memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
}

void write_str(const char* dir, const char* file, const char* value) {
  char p[k_path + 64];
  std::size_t n = std::strlen(dir);
  std::memcpy(p, dir, n);
  std::size_t m = std::strlen(file);
  std::memcpy(p + n, file, m + 1);
  const int fd = ::open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] auto w = ::write(fd, value, std::strlen(value));
  ::close(fd);
}

void do_remove_instance() {
  if (!instance_live.exchange(false, std::memory_order_acq_rel)) return;
  write_str(instance_dir, "/tracing_on", "0");
  write_str(instance_dir, "/events/enable", "0");
  const int fd = marker_fd.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) ::close(fd);
  // An open reader makes rmdir fail with EBUSY for a moment: retry briefly.
  for (int i = 0; i < 50 && ::rmdir(instance_dir) != 0 && errno == EBUSY; ++i) ::usleep(2000);
}

void do_remove_ns(int i) {
  if (!ns_live[i].exchange(false, std::memory_order_acq_rel)) return;
  char p[128] = "/run/netns/";
  const std::size_t prefix = std::strlen(p);
  copy_cut(p + prefix, sizeof p - prefix, ns_names[i]);
  ::umount2(p, MNT_DETACH);
  ::unlink(p);
}

void do_unmount() {
  if (!mount_live.exchange(false, std::memory_order_acq_rel)) return;
  ::umount2(mount_root, MNT_DETACH);
  ::rmdir(mount_root);   // our own mount point under /tmp
}

void on_signal(int sig) {
  run_all();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_signal_handlers() {
  if (installed.exchange(true)) return;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(s, &sa, nullptr);
}

void set_tracefs_instance(const char* dir) {
  std::strncpy(instance_dir, dir, k_path - 1);
  instance_live.store(true, std::memory_order_release);
  install_signal_handlers();
}
void set_marker_fd(int fd) { marker_fd.store(fd, std::memory_order_release); }
void remove_tracefs_instance() { do_remove_instance(); }

void set_tracefs_mount(const char* root) {
  std::strncpy(mount_root, root, k_path - 1);
  mount_live.store(true, std::memory_order_release);
  install_signal_handlers();
}
void unmount_tracefs() { do_unmount(); }

void add_netns(const char* name) {
  for (int i = 0; i < k_ns; ++i) {
    if (ns_live[i].load(std::memory_order_acquire)) continue;
    copy_cut(ns_names[i], sizeof ns_names[i], name);
    ns_live[i].store(true, std::memory_order_release);
    break;
  }
  install_signal_handlers();
}

void remove_netns(const char* name) {
  for (int i = 0; i < k_ns; ++i)
    if (ns_live[i].load(std::memory_order_acquire) && std::strcmp(ns_names[i], name) == 0) do_remove_ns(i);
}

static_assert(sizeof(sigset_t) <= sizeof(unsigned long[16]));

defer_signals::defer_signals() noexcept {
  sigset_t block;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, reinterpret_cast<sigset_t*>(old_));
}

defer_signals::~defer_signals() { pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr); }

void run_all() noexcept {
  do_remove_instance();
  for (int i = 0; i < k_ns; ++i) do_remove_ns(i);
  do_unmount();
}

}  // namespace ringlab::trace_flow::cleanup
