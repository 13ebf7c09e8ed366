#pragma once
// One factory pair per io mode, each defined in its own build of kernel_endpoints_io.cpp;
// kernel_endpoints.cpp picks by the service's io mode.
#include <memory>

#include "tools/mcast/endpoints.hpp"

namespace ringlab::mcast::kernel::epoll {
std::unique_ptr<line_sender> make_sender(bypass::AsioService& svc, const send_options& o);
std::unique_ptr<group_receiver> make_receiver(bypass::AsioService& svc, const recv_options& o);
}  // namespace ringlab::mcast::kernel::epoll

namespace ringlab::mcast::kernel::uring {
std::unique_ptr<line_sender> make_sender(bypass::AsioService& svc, const send_options& o);
std::unique_ptr<group_receiver> make_receiver(bypass::AsioService& svc, const recv_options& o);
}  // namespace ringlab::mcast::kernel::uring
