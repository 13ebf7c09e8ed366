#include "tools/trace_packet_flow/tracefs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tools/trace_packet_flow/cleanup.hpp"

namespace ringlab::trace_flow {

namespace {
constexpr const char* k_root = "/sys/kernel/tracing";

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}
}  // namespace

bool write_file(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

std::string tracefs_instance::unavailable_reason() {
  if (::geteuid() != 0) return "tracefs needs root (run as root)";
  if (exists(std::string(k_root) + "/instances")) return "";
  // Not mounted at the usual place: can we mount our own? Try and undo at once.
  const std::string dir = "/tmp/ringlab-tracefs-check-" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  std::string why;
  if (::mount("nodev", dir.c_str(), "tracefs", 0, nullptr) != 0) {
    why = std::string("tracefs is not mounted and cannot be: ") + std::strerror(errno);
  } else {
    if (!exists(dir + "/instances")) why = "tracefs has no instances/ directory";
    ::umount2(dir.c_str(), MNT_DETACH);
  }
  ::rmdir(dir.c_str());
  return why;
}

// tracefs not mounted at /sys/kernel/tracing: mount a private one at /tmp/ringlab-tracefs-PID (the
// instances are the kernel's, whichever mount shows them) and take it away at the end, so the
// machine's mount table is as it was; another tool mounting the usual place meanwhile is not affected.
tracefs_instance::tracefs_instance(const std::string& name) : root_(k_root) {
  cleanup::defer_signals hold;   // mount, mkdir and their registration as one step for the handler
  if (::geteuid() != 0) throw std::runtime_error("tracefs needs root (run as root)");
  if (!exists(root_ + "/instances")) {
    root_ = "/tmp/ringlab-tracefs-" + std::to_string(::getpid());
    ::mkdir(root_.c_str(), 0700);
    if (::mount("nodev", root_.c_str(), "tracefs", 0, nullptr) != 0) {
      const int e = errno;
      ::rmdir(root_.c_str());
      throw std::runtime_error("tracefs is not mounted and cannot be mounted on " + root_ + ": " + std::strerror(e));
    }
    mounted_by_us_ = true;
    cleanup::set_tracefs_mount(root_.c_str());
  }
  dir_ = root_ + "/instances/" + (name.empty() ? "ringlab-" + std::to_string(::getpid()) : name);
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create tracefs instance " + dir_ + ": " + std::strerror(errno));
  cleanup::set_tracefs_instance(dir_.c_str());
  write_file(dir_ + "/tracing_on", "0");
  write_file(dir_ + "/buffer_size_kb", "4096");   // per CPU, this instance only
  marker_fd_ = ::open((dir_ + "/trace_marker").c_str(), O_WRONLY | O_CLOEXEC);
  cleanup::set_marker_fd(marker_fd_);   // the cleanup closes it: an open marker keeps rmdir busy
}

tracefs_instance::~tracefs_instance() {
  cleanup::remove_tracefs_instance();   // closes marker_fd_ too
  if (mounted_by_us_) cleanup::unmount_tracefs();
}

bool tracefs_instance::has_event(const std::string& sys_event) const {
  const auto colon = sys_event.find(':');
  return exists(dir_ + "/events/" + sys_event.substr(0, colon) + "/" + sys_event.substr(colon + 1) + "/enable");
}

bool tracefs_instance::enable(const std::string& sys_event) {
  const auto colon = sys_event.find(':');
  if (!has_event(sys_event)) return false;
  if (!write_file(dir_ + "/events/" + sys_event.substr(0, colon) + "/" + sys_event.substr(colon + 1) + "/enable", "1"))
    return false;
  enabled_.push_back(sys_event);
  return true;
}

bool tracefs_instance::set_filter(const std::string& sys_event, const std::string& filter) {
  const auto colon = sys_event.find(':');
  return write_file(dir_ + "/events/" + sys_event.substr(0, colon) + "/" + sys_event.substr(colon + 1) + "/filter",
                    filter);
}

bool tracefs_instance::set_clock(const std::string& clock) {
  if (read_file(dir_ + "/trace_clock").find(clock) == std::string::npos) return false;
  return write_file(dir_ + "/trace_clock", clock);
}

void tracefs_instance::tracing_on(bool on) { write_file(dir_ + "/tracing_on", on ? "1" : "0"); }

void tracefs_instance::marker(const std::string& text) {
  if (marker_fd_ >= 0) [[maybe_unused]] auto n = ::write(marker_fd_, text.data(), text.size());
}

std::string tracefs_instance::read_trace() const { return read_file(dir_ + "/trace"); }

std::string tracefs_instance::event_format(const std::string& sys_event) const {
  const auto colon = sys_event.find(':');
  return read_file(dir_ + "/events/" + sys_event.substr(0, colon) + "/" + sys_event.substr(colon + 1) + "/format");
}

}  // namespace ringlab::trace_flow
