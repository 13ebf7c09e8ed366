#include "stack/socket/tcp_listener.hpp"

#include <algorithm>

#include "stack/iface/interface.hpp"
#include "stack/iface/tcp_entry.hpp"
#include "stack/socket/tcp_lane.hpp"

namespace ringlab::stack {

namespace {
std::error_code errc(std::errc e) noexcept { return std::make_error_code(e); }
}  // namespace

tcp_listener::tcp_listener(interface& ifc, const tcp::connection_config& cfg) : tcp_listener(ifc.tcp_host(), cfg) {}

tcp_listener::tcp_listener(tcp_host& host, const tcp::connection_config& cfg) : host_(&host), cfg_(cfg) {}

tcp_listener::~tcp_listener() { close(); }

std::error_code tcp_listener::bind(endpoint local) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (bound_) return errc(std::errc::invalid_argument);
  if (auto ec = host_->lane.sockets().bind_tcp(this, local); ec) return ec;
  local_ = local;
  bound_ = true;
  return {};
}

std::error_code tcp_listener::listen(std::size_t backlog) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (!bound_)   // listen(2) on an unbound socket binds an ephemeral port first
    if (auto ec = bind({}); ec) return ec;
  backlog_ = std::max<std::size_t>(backlog, 1);
  listening_ = true;
  host_->lane.sockets().listen_tcp(this, this);
  return {};
}

std::error_code tcp_listener::accept(std::unique_ptr<tcp_socket>& out) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (!listening_) return errc(std::errc::invalid_argument);
  if (ready_.empty()) return errc(std::errc::operation_would_block);
  tcp_entry* e = ready_.front();
  ready_.pop_front();
  out = std::make_unique<tcp_socket>(*host_, cfg_);
  out->adopt(*e);
  return {};
}

void tcp_listener::remove_ready(tcp_entry& e) noexcept {
  const auto it = std::find(ready_.begin(), ready_.end(), &e);
  if (it != ready_.end()) ready_.erase(it);
}

void tcp_listener::close() noexcept {
  if (!open_) return;
  open_ = false;
  listening_ = false;
  if (bound_) host_->lane.sockets().unbind_tcp(this);   // no new SYN finds this listener from here on
  bound_ = false;
  host_->lane.close_listener(*this, host_->lane.now());
  ready_.clear();
  half_open_ = 0;
}

}  // namespace ringlab::stack
