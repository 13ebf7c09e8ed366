#include "asio_bypass/asio_service.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "tools/mcast/kernel_endpoints_io.hpp"

namespace ringlab::mcast {

std::unique_ptr<line_sender> make_kernel_sender(bypass::AsioService& svc, const send_options& o) {
  return svc.io() == bypass::io_mode::uring ? kernel::uring::make_sender(svc, o) : kernel::epoll::make_sender(svc, o);
}

std::unique_ptr<group_receiver> make_kernel_receiver(bypass::AsioService& svc, const recv_options& o) {
  return svc.io() == bypass::io_mode::uring ? kernel::uring::make_receiver(svc, o)
                                            : kernel::epoll::make_receiver(svc, o);
}

std::string ipv4_to_string(std::uint32_t host_order) { return wire::ipv4_addr{host_order}.to_string(); }

}  // namespace ringlab::mcast
