#pragma once
// What the kernel path leaves on the machine while it runs (a tracefs instance, maybe a tracefs
// mount, two network namespaces) is registered here, so that normal exit, an exception, and
// SIGINT/SIGTERM/SIGHUP/SIGQUIT all remove it. The signal handler uses only async-signal-safe calls
// (open/write/close/rmdir/umount2/unlink) on paths stored in fixed buffers, then re-raises the signal.
namespace ringlab::trace_flow::cleanup {

void install_signal_handlers();            // idempotent

void set_tracefs_instance(const char* dir);
void set_marker_fd(int fd);
void remove_tracefs_instance();            // tracing_on=0, events off, close marker, rmdir
void set_tracefs_mount(const char* root);
void unmount_tracefs();

// Network namespaces by name (/run/netns/NAME); deleting a namespace deletes the veth end in it.
void add_netns(const char* name);
void remove_netns(const char* name);       // umount2 + unlink, like `ip netns del`

void run_all() noexcept;                   // everything still registered

// Holds SIGINT/SIGTERM/SIGHUP/SIGQUIT back in this thread while a resource is being made (an `ip netns
// add` child half done when the handler runs would create the namespace after the cleanup): a signal
// that comes meanwhile is handled when the guard ends, with everything registered.
class defer_signals {
 public:
  defer_signals() noexcept;
  ~defer_signals();
  defer_signals(const defer_signals&) = delete;
  defer_signals& operator=(const defer_signals&) = delete;

 private:
  unsigned long old_[16];   // a sigset_t, kept opaque here
};

}  // namespace ringlab::trace_flow::cleanup
