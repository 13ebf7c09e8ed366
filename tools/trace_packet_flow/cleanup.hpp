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

}  // namespace ringlab::trace_flow::cleanup
