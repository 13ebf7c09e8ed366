#pragma once
// tcp_apps::lane_apps: one instance of an app (echo_server, http_server, ...) per lane of a
// bypass::tcp_lanes, each fed by its lane's listener (tcp_lanes::listen hands a lane's accepted
// socket to that lane's instance, on that lane's thread). The instances share nothing: what the
// whole server did is the sum the caller takes over them once the lanes stopped (or, with one
// thread, between rounds), never a counter written from two lanes.
#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "asio_bypass/tcp_lanes.hpp"
#include "asio_bypass/tcp_socket.hpp"

namespace ringlab::tcp_apps {

// App needs serve(bypass::tcp::socket) (echo_server's and http_server's acceptor-less form).
template <class App>
class lane_apps {
 public:
  // make(lane) -> std::unique_ptr<App>, called for every lane on this thread (before the lanes start).
  template <class Make>
  lane_apps(bypass::tcp_lanes& lanes, Make&& make) : lanes_(lanes) {
    for (std::size_t q = 0; q < lanes.size(); ++q) apps_.push_back(make(q));
  }
  // A listener for `at` on every lane; each hands its connections to its lane's instance.
  std::error_code listen(const asio::ip::tcp::endpoint& at) {
    return lanes_.listen(at, [this](std::size_t lane, bypass::tcp::socket s) { apps_[lane]->serve(std::move(s)); });
  }
  std::size_t size() const noexcept { return apps_.size(); }
  App& operator[](std::size_t lane) noexcept { return *apps_[lane]; }
  const App& operator[](std::size_t lane) const noexcept { return *apps_[lane]; }

 private:
  bypass::tcp_lanes& lanes_;
  std::vector<std::unique_ptr<App>> apps_;
};

}  // namespace ringlab::tcp_apps
