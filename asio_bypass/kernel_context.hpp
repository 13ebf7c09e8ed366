#pragma once
// The io_context under an AsioService, for code compiled for one io mode: ordinary code gets the
// epoll context; files compiled by ringlab_kernel_io_variants() get the one of their build.
//   asio::ip::udp::socket s(ringlab::kernel::RINGLAB_KERNEL_IO::context(*svc));
#include <asio/io_context.hpp>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/kernel_io_mode.hpp"

namespace ringlab::kernel::RINGLAB_KERNEL_IO {
// Throws std::logic_error when the service runs another io mode than this file was compiled for.
asio::io_context& context(bypass::AsioService& svc);
}  // namespace ringlab::kernel::RINGLAB_KERNEL_IO
