// Kernel UDP receive over loopback with Asio: epoll against io_uring, 64 B and 1400 B datagrams.
// A plain blocking sendmmsg loop (32 datagrams a call) runs on its own thread pinned to core 1; the
// receiver runs on the benchmark thread pinned to core 0. One benchmark iteration receives a batch of
// 20000 datagrams. Counters:
//   items_per_second   datagrams received per second (wall)
//   ns_per_pkt         wall time per datagram received
//   rx_cpu_ns_per_pkt  the receiving thread's CPU time per datagram (what the receive path costs)
//   delivered          received / sent in the run (loopback drops when the receiver falls behind)
//   vs_epoll           io_uring's items/s over epoll's for the same size (io_uring rows only)
// On loopback the sender's core also does the kernel's receive work (softirq), so it often sets the
// rate; rx_cpu_ns_per_pkt is the figure to compare with bypass receive paths later.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "bench/kernel_udp/udp_rx.hpp"

namespace {

using namespace ringlab::bench;

constexpr std::uint64_t batch = 20000;

bool pin_to(int cpu) {
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % n, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Sends size-byte datagrams to 127.0.0.1:port until stop, 32 per sendmmsg; counts what the kernel took.
class blaster {
 public:
  blaster(std::uint16_t port, std::size_t size) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to);
    payload_.assign(size, 0x5a);
    thread_ = std::thread([this] { run(); });
  }
  ~blaster() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
    ::close(fd_);
  }
  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

 private:
  void run() {
    pin_to(1);
    constexpr int k = 32;
    iovec iov[k];
    mmsghdr msgs[k]{};
    for (int i = 0; i < k; ++i) {
      iov[i] = {payload_.data(), payload_.size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (!stop_.load(std::memory_order_relaxed)) {
      const int r = ::sendmmsg(fd_, msgs, k, 0);
      if (r > 0) sent_.fetch_add(static_cast<std::uint64_t>(r), std::memory_order_relaxed);
    }
  }
  int fd_ = -1;
  std::vector<unsigned char> payload_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

std::map<std::int64_t, double> epoll_rate;   // size -> items/s, for vs_epoll

template <bool Uring>
void BM_kernel_udp_rx(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  pin_to(0);
  auto rx = Uring ? uring::make_udp_rx() : epoll::make_udp_rx();
  blaster tx(rx->port(), size);
  rx->receive(2000);   // warm up: the sender is running, caches and queues are in place
  const std::uint64_t sent0 = tx.sent();
  rx_result total;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    const auto r = rx->receive(batch);
    total.packets += r.packets;
    total.bytes += r.bytes;
    total.cpu_ns += r.cpu_ns;
    if (r.timed_out) {
      st.SkipWithError("no traffic for 5 s");
      break;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t sent = tx.sent() - sent0;
  st.SetItemsProcessed(static_cast<std::int64_t>(total.packets));
  st.SetBytesProcessed(static_cast<std::int64_t>(total.bytes));
  using benchmark::Counter;
  st.counters["ns_per_pkt"] = Counter(static_cast<double>(total.packets) * 1e-9, Counter::kIsRate | Counter::kInvert);
  st.counters["rx_cpu_ns_per_pkt"] = total.packets ? static_cast<double>(total.cpu_ns) / total.packets : 0;
  st.counters["delivered"] = sent ? static_cast<double>(total.packets) / static_cast<double>(sent) : 0;
  const double rate = secs > 0 ? static_cast<double>(total.packets) / secs : 0;
  if (!Uring) epoll_rate[st.range(0)] = rate;
  else if (epoll_rate.count(st.range(0)) && epoll_rate[st.range(0)] > 0)
    st.counters["vs_epoll"] = rate / epoll_rate[st.range(0)];
}

// Interleaved so that each io_uring row follows the epoll row of its size.
BENCHMARK(BM_kernel_udp_rx<false>)->Name("kernel_udp_rx/epoll")->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_udp_rx<true>)->Name("kernel_udp_rx/uring")->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_udp_rx<false>)->Name("kernel_udp_rx/epoll")->Arg(1400)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_udp_rx<true>)->Name("kernel_udp_rx/uring")->Arg(1400)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
