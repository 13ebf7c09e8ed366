#pragma once
// Which io mode this file is compiled for. Code compiled by ringlab_kernel_io_variants() gets
// RINGLAB_KERNEL_IO_URING=0 or 1 from CMake; any other code is epoll (Asio's default). It opens its
// per-mode declarations with `namespace ringlab::...::RINGLAB_KERNEL_IO { ... }`, so the epoll and the
// io_uring builds of one file define different names.
#if defined(RINGLAB_KERNEL_IO_URING) && RINGLAB_KERNEL_IO_URING
#  if !defined(ASIO_HAS_IO_URING) || !defined(ASIO_DISABLE_EPOLL) || !defined(asio)
#    error "io_uring code must be compiled through ringlab_kernel_io_variants() (asio_bypass/CMakeLists.txt)"
#  endif
#  define RINGLAB_KERNEL_IO uring
#else
#  if defined(ASIO_HAS_IO_URING)
#    error "ASIO_HAS_IO_URING outside ringlab_kernel_io_variants(): this file would break the ODR"
#  endif
#  define RINGLAB_KERNEL_IO epoll
#endif

#include "asio_bypass/io_engine.hpp"

namespace ringlab::kernel::RINGLAB_KERNEL_IO {
#if defined(RINGLAB_KERNEL_IO_URING) && RINGLAB_KERNEL_IO_URING
inline constexpr bypass::io_mode compiled_io_mode = bypass::io_mode::uring;
#else
inline constexpr bypass::io_mode compiled_io_mode = bypass::io_mode::epoll;
#endif
}  // namespace ringlab::kernel::RINGLAB_KERNEL_IO
