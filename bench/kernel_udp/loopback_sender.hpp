#pragma once
// The kernel rows' traffic: size-byte datagrams to 127.0.0.1:port, 32 per sendmmsg, either
//   send(n)   now, on the calling thread: bench/bypass_udp fills the receiver's socket queue before
//             each timed receive, so the receiver never waits for its sender (nor shares a core with it)
//   start()   from a thread of its own pinned to CPU 1 (the receiver has CPU 0), until destroyed
// `stamp` (optional) writes each datagram before it goes, with its running index: bench/bypass_udp
// numbers them with mcast headers, so the receiver's sequence tracker sees fresh numbers as it does
// on the bypass side.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "bench/cpu.hpp"

namespace ringlab::bench {

class loopback_sender {
 public:
  using stamp_fn = std::function<void(std::span<std::byte> datagram, std::uint64_t index)>;

  loopback_sender(std::uint16_t port, std::size_t size, stamp_fn stamp = {})
      : size_(size), stamp_(std::move(stamp)), data_(size * per_call, std::byte{0x5a}) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to);
    for (int i = 0; i < per_call; ++i) {
      iov_[i] = {data_.data() + i * size_, size_};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  ~loopback_sender() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  loopback_sender(const loopback_sender&) = delete;
  loopback_sender& operator=(const loopback_sender&) = delete;

  // Sends n datagrams on this thread; returns how many the kernel took (fewer only on an error).
  std::uint64_t send(std::uint64_t n) {
    std::uint64_t done = 0;
    while (done < n) {
      const int r = send_some(static_cast<int>(std::min<std::uint64_t>(per_call, n - done)));
      if (r <= 0) break;
      done += static_cast<std::uint64_t>(r);
    }
    return done;
  }

  // Sends from a thread pinned to CPU 1 until destroyed. Not with send().
  void start() {
    thread_ = std::thread([this] {
      pin_to_cpu(1);
      while (!stop_.load(std::memory_order_relaxed)) send_some(per_call);
    });
  }

  // Datagrams the kernel accepted so far (loopback may still drop them at the receiver's queue).
  std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

 private:
  static constexpr int per_call = 32;

  int send_some(int k) {
    if (stamp_)
      for (int i = 0; i < k; ++i) stamp_(std::span(data_.data() + i * size_, size_), index_ + i);
    const int r = ::sendmmsg(fd_, msgs_.data(), static_cast<unsigned>(k), 0);
    if (r > 0) {
      index_ += static_cast<std::uint64_t>(r);   // unsent ones go again with the same numbers
      sent_.fetch_add(static_cast<std::uint64_t>(r), std::memory_order_relaxed);
    }
    return r;
  }

  std::size_t size_;
  stamp_fn stamp_;
  std::vector<std::byte> data_;
  std::array<iovec, per_call> iov_{};
  std::array<mmsghdr, per_call> msgs_{};
  int fd_ = -1;
  std::uint64_t index_ = 0;   // the sending thread's
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

}  // namespace ringlab::bench
