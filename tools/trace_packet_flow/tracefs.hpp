#pragma once
// A private tracefs instance (/sys/kernel/tracing/instances/ringlab-PID): its own ring buffer, its own
// event enables, filters, clock and trace_marker, so the global trace state is never touched. The
// instance is removed on destruction and also when the process is ended by SIGINT/SIGTERM/SIGHUP/SIGQUIT
// (the handler does only async-signal-safe calls: write "0", rmdir, umount2). If tracefs is not
// mounted at /sys/kernel/tracing, a private mount at /tmp/ringlab-tracefs-PID is made and removed.
#include <cstdint>
#include <string>
#include <vector>

namespace ringlab::trace_flow {

class tracefs_instance {
 public:
  // Throws std::runtime_error saying why tracing is unavailable (not root, no tracefs).
  explicit tracefs_instance(const std::string& name = "");
  ~tracefs_instance();
  tracefs_instance(const tracefs_instance&) = delete;
  tracefs_instance& operator=(const tracefs_instance&) = delete;

  // Why tracefs cannot be used here, or "" when it can (checked without changing anything).
  static std::string unavailable_reason();

  const std::string& path() const noexcept { return dir_; }
  const std::string& root() const noexcept { return root_; }
  bool has_event(const std::string& sys_event) const;      // "net:netif_rx"
  bool enable(const std::string& sys_event);                // false if the event does not exist here
  bool set_filter(const std::string& sys_event, const std::string& filter);
  bool set_clock(const std::string& clock);                 // false if the kernel lacks it
  void tracing_on(bool on);
  void marker(const std::string& text);                     // writes to this instance's trace_marker
  std::string read_trace() const;                           // the "trace" file (text)
  std::string event_format(const std::string& sys_event) const;
  const std::vector<std::string>& enabled() const noexcept { return enabled_; }

 private:
  std::string root_, dir_;
  bool mounted_by_us_ = false;
  int marker_fd_ = -1;
  std::vector<std::string> enabled_;
};

bool write_file(const std::string& path, const std::string& value);
std::string read_file(const std::string& path);

}  // namespace ringlab::trace_flow
