#pragma once
// packetdrill's shared-object interface, declared by us (packetdrill's code does not enter this
// repository). packetdrill, run with --so_filename=FILE --so_flags=STRING, dlopen()s FILE
// (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND), looks up `packetdrill_interface_init`, calls it once with
// the --so_flags string and a zeroed struct it owns, and from then on makes every socket call, moves
// every packet and reads every clock through the function pointers the struct holds:
//
//   script line            packetdrill calls                     here
//   +0 socket(...) = 3     ifc.socket(userdata, AF_INET, ...)   the fd table (fd_table.hpp)
//   +0 < S 0:0(0) ...      ifc.netdev_send(userdata, ip, len)   an IPv4 packet "from the remote" in
//   +0 > S. 0:0(0) ...     ifc.netdev_receive(userdata, ...)    the next IPv4 packet our stack sent
//   (waits between lines)  ifc.usleep / ifc.gettimeofday        the virtual clock (virtual_clock.hpp)
//   end of script          ifc.free(userdata)                   everything torn down
//
// The layout MUST match `struct packetdrill_interface` in google/packetdrill
// gtests/net/packetdrill/packetdrill.h (the Linux build, with epoll, pipe and splice; the version that
// so_testing.c fills through packetdrill_interface_init_t): the same members, the same order, the same
// types, since packetdrill allocates the struct and we fill it. A field added upstream goes at its
// place here, or packetdrill calls the wrong function. The static_asserts below pin the offsets.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>

extern "C" {

struct packetdrill_interface {
  void* userdata;                                   // passed back as the first argument of every call
  void (*free)(void* userdata);                     // end of the run: release everything
  int (*socket)(void* userdata, int domain, int type, int protocol);
  int (*bind)(void* userdata, int sockfd, const struct sockaddr* addr, socklen_t addrlen);
  int (*listen)(void* userdata, int sockfd, int backlog);
  int (*accept)(void* userdata, int sockfd, struct sockaddr* addr, socklen_t* addrlen);
  int (*connect)(void* userdata, int sockfd, const struct sockaddr* addr, socklen_t addrlen);
  ssize_t (*read)(void* userdata, int fd, void* buf, size_t count);
  ssize_t (*readv)(void* userdata, int fd, const struct iovec* iov, int iovcnt);
  ssize_t (*recv)(void* userdata, int sockfd, void* buf, size_t len, int flags);
  ssize_t (*recvfrom)(void* userdata, int sockfd, void* buf, size_t len, int flags, struct sockaddr* src_addr,
                      socklen_t* addrlen);
  ssize_t (*recvmsg)(void* userdata, int sockfd, struct msghdr* msg, int flags);
  ssize_t (*write)(void* userdata, int fd, const void* buf, size_t count);
  ssize_t (*writev)(void* userdata, int fd, const struct iovec* iov, int iovcnt);
  ssize_t (*send)(void* userdata, int sockfd, const void* buf, size_t len, int flags);
  ssize_t (*sendto)(void* userdata, int sockfd, const void* buf, size_t len, int flags,
                    const struct sockaddr* dest_addr, socklen_t addrlen);
  ssize_t (*sendmsg)(void* userdata, int sockfd, const struct msghdr* msg, int flags);
  int (*fcntl)(void* userdata, int fd, int cmd, ...);
  int (*ioctl)(void* userdata, int fd, unsigned long request, ...);
  int (*close)(void* userdata, int fd);
  int (*shutdown)(void* userdata, int sockfd, int how);
  int (*getsockopt)(void* userdata, int sockfd, int level, int optname, void* optval, socklen_t* optlen);
  int (*setsockopt)(void* userdata, int sockfd, int level, int optname, const void* optval, socklen_t optlen);
  int (*poll)(void* userdata, struct pollfd* fds, nfds_t nfds, int timeout);
  // Inject `count` bytes (one IPv4 packet, from its IP header on) into the stack. 0 or -1.
  int (*netdev_send)(void* userdata, const void* buf, size_t count);
  // The next packet the stack sent: its bytes into buf (*count: room in, length out; 0 = nothing) and
  // the time it left (*time_usecs, on the clock gettimeofday reads). 0 or -1.
  int (*netdev_receive)(void* userdata, void* buf, size_t* count, long long* time_usecs);
  int (*usleep)(void* userdata, useconds_t usec);
  int (*gettimeofday)(void* userdata, struct timeval* tv, struct timezone* tz);
  int (*epoll_create)(void* userdata, int size);
  int (*epoll_ctl)(void* userdata, int epfd, int op, int fd, struct epoll_event* event);
  int (*epoll_wait)(void* userdata, int epfd, struct epoll_event* events, int maxevents, int timeout);
  int (*pipe)(void* userdata, int pipefd[2]);
  int (*splice)(void* userdata, int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t len,
                unsigned int flags);
};

// What packetdrill looks up with dlsym (so_testing.c: packetdrill_interface_init_t).
using packetdrill_interface_init_fn = void (*)(const char* flags, struct packetdrill_interface* ifc);

}  // extern "C"

// Every member is one pointer, in declaration order: 33 of them (userdata, free, 22 socket calls,
// netdev_send/receive, usleep, gettimeofday, epoll x3, pipe, splice).
static_assert(sizeof(packetdrill_interface) == 33 * sizeof(void*));
static_assert(offsetof(packetdrill_interface, socket) == 2 * sizeof(void*));
static_assert(offsetof(packetdrill_interface, poll) == 23 * sizeof(void*));
static_assert(offsetof(packetdrill_interface, netdev_send) == 24 * sizeof(void*));
static_assert(offsetof(packetdrill_interface, gettimeofday) == 27 * sizeof(void*));
static_assert(offsetof(packetdrill_interface, splice) == 32 * sizeof(void*));
