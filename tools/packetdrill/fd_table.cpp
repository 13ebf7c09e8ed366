#include "tools/packetdrill/fd_table.hpp"

namespace ringlab::packetdrill {

int fd_table::add(fd_entry e) {
  int fd = first_fd;
  for (const auto& [n, _] : fds_) {   // ordered: the first gap is the lowest free number
    if (n != fd) break;
    ++fd;
  }
  fds_.emplace(fd, std::move(e));
  return fd;
}

fd_entry* fd_table::find(int fd) noexcept {
  const auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : &it->second;
}

bool fd_table::port_taken(std::uint16_t port, const fd_entry& self) const noexcept {
  for (const auto& [_, e] : fds_) {
    if (&e == &self) continue;
    std::uint16_t p = e.bound ? e.bound->port : 0;
    if (e.listener) p = e.listener->local_endpoint().port;
    else if (e.sock) p = e.sock->local_endpoint().port;
    if (p != port) continue;
    if (e.listener || !e.opt.reuse_addr || !self.opt.reuse_addr) return true;
  }
  return false;
}

}  // namespace ringlab::packetdrill
