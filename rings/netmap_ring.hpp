#pragma once
// netmap_ring: netmap's ring (sys/net/netmap.h): slots {buf_idx, len, flags} that point into one shared
// buffer pool, three user-visible indices head/cur/tail, and a sync() step standing in for the
// NIOCRXSYNC/NIOCTXSYNC ioctl, where the kernel looks at the ring. netmap's ownership rule:
//
//          head        cur                tail
//   -------+===========+==================+------------------------
//    kernel|        user owns [head, tail)|  kernel owns [tail, head + num_slots)
//
//   RX ring: [head, tail) are received packets for the user; the user returns slots by moving head.
//   TX ring: [head, tail) are free slots for the user to fill; moving head hands them to the NIC.
//   cur (head <= cur <= tail) is the wake-up point: poll() would sleep until tail passes cur.
//   The user touches slots and buffers in [head, tail) only, and head/cur only. The kernel changes tail,
//   and only inside sync(). A user who changes a slot's buf_idx sets NS_BUF_CHANGED (ns_buf_changed)
//   so the kernel reloads the NIC's buffer address; that is how a packet moves between rings without a
//   copy (swap_buffers()).
//
// Differences from netmap, on purpose: indices are free-running uint32_t masked by a power-of-two
// num_slots (netmap keeps them in [0, num_slots) and so holds num_slots - 1 packets; here the ring holds
// num_slots), and the "NIC" is a second thread calling nic_rx/nic_tx instead of DMA.
//
// Threads: the user thread runs the user calls and sync() (sync is a syscall on the user's thread in
// netmap too); the NIC thread runs nic_rx()/nic_tx(). They meet in two atomics:
//   R1 release hwcur in sync() (u):      pairs with A1 in nic_*(): slots before head are the NIC's again
//   R2 release nic_done in nic_*() (k):  pairs with A2 in sync(): the NIC finished with those slots
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "rings/ring_index.hpp"

namespace ringlab::rings {

struct netmap_slot {
  std::uint32_t buf_idx;  // buffer index in the pool
  std::uint16_t len;      // bytes of packet in the buffer
  std::uint16_t flags;    // ns_buf_changed, ...
};
static_assert(sizeof(netmap_slot) == 8);
inline constexpr std::uint16_t ns_buf_changed = 0x0001;  // NS_BUF_CHANGED: buf_idx was changed by the user

// The shared buffer area, cut into count buffers of buf_size bytes addressed by index. Buffers are
// handed to rings at setup; after that they only move between slots (netmap allocates them all when
// the port opens, too). Not thread-safe: take/give run at setup.
class netmap_buffer_pool {
 public:
  netmap_buffer_pool(std::uint32_t count, std::uint32_t buf_size)
      : count_(count), buf_size_(buf_size), area_(static_cast<std::byte*>(::operator new(
                                                std::size_t{count} * buf_size, std::align_val_t{4096}))) {
    if (count == 0 || buf_size == 0 || buf_size % cache_line_bytes != 0)
      throw std::invalid_argument("netmap_buffer_pool: count > 0, buf_size a multiple of 64");
    free_.reserve(count);
    for (std::uint32_t i = count; i-- > 0;) free_.push_back(i);
  }
  ~netmap_buffer_pool() { ::operator delete(area_, std::align_val_t{4096}); }
  netmap_buffer_pool(const netmap_buffer_pool&) = delete;
  netmap_buffer_pool& operator=(const netmap_buffer_pool&) = delete;

  std::span<std::byte> buffer(std::uint32_t idx) const noexcept {
    return {area_ + std::size_t{idx} * buf_size_, buf_size_};
  }
  std::uint32_t take() {
    if (free_.empty()) throw std::length_error("netmap_buffer_pool: out of buffers");
    const std::uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  void give(std::uint32_t idx) { free_.push_back(idx); }
  std::uint32_t count() const noexcept { return count_; }
  std::uint32_t buf_size() const noexcept { return buf_size_; }
  std::size_t free_count() const noexcept { return free_.size(); }

 private:
  std::uint32_t count_, buf_size_;
  std::byte* area_;
  std::vector<std::uint32_t> free_;
};

enum class netmap_dir : std::uint8_t { rx, tx };

class netmap_ring {
 public:
  netmap_ring(netmap_buffer_pool& pool, std::uint32_t num_slots, netmap_dir dir, std::uint32_t initial_index = 0)
      : pool_(&pool), num_slots_(ring_size_for(num_slots)), mask_(num_slots_ - 1), dir_(dir),
        slots_(std::make_unique<netmap_slot[]>(num_slots_)) {
    for (std::uint32_t i = 0; i < num_slots_; ++i) slots_[i] = {pool.take(), 0, 0};
    idx_.u.head = idx_.u.cur = initial_index;
    idx_.u.tail = dir == netmap_dir::rx ? initial_index : initial_index + num_slots_;
    idx_.u.hwcur.store(initial_index, std::memory_order_relaxed);
    idx_.k.next = initial_index;
    idx_.k.done.store(initial_index, std::memory_order_relaxed);
  }
  ~netmap_ring() {
    for (std::uint32_t i = 0; i < num_slots_; ++i) pool_->give(slots_[i].buf_idx);
  }
  netmap_ring(const netmap_ring&) = delete;
  netmap_ring& operator=(const netmap_ring&) = delete;

  // ---- user side (u) ----
  std::uint32_t head() const noexcept { return idx_.u.head; }
  std::uint32_t cur() const noexcept { return idx_.u.cur; }
  std::uint32_t tail() const noexcept { return idx_.u.tail; }
  std::uint32_t space() const noexcept { return idx_.u.tail - idx_.u.head; }  // nm_ring_space()
  bool ready() const noexcept { return idx_.u.tail != idx_.u.cur; }           // what poll() waits for
  netmap_slot& slot(std::uint32_t index) noexcept { return slots_[index & mask_]; }
  std::span<std::byte> buffer(const netmap_slot& s) const noexcept { return pool_->buffer(s.buf_idx); }
  // Returns n slots to the kernel: head = cur = head + n (the usual netmap loop).
  void advance(std::uint32_t n) noexcept { idx_.u.head = idx_.u.cur = idx_.u.head + n; }
  // Head and cur set by hand, e.g. cur ahead of head to wait for more without giving slots back.
  void set_head_cur(std::uint32_t head, std::uint32_t cur) noexcept {
    idx_.u.head = head;
    idx_.u.cur = cur;
  }
  // The kernel's half of NIOC*XSYNC. Like nm_rxsync_prologue() it first checks the user's head and cur
  // (hwcur <= head <= cur <= tail, modulo 2^32); on a violation it changes nothing and returns false.
  // Otherwise it gives [hwcur, head) back to the NIC and moves tail to what the NIC has finished.
  bool sync() noexcept {
    const std::uint32_t hwcur = idx_.u.hwcur.load(std::memory_order_relaxed);
    if (idx_.u.head - hwcur > idx_.u.tail - hwcur || idx_.u.cur - idx_.u.head > idx_.u.tail - idx_.u.head) return false;
    idx_.u.hwcur.store(idx_.u.head, std::memory_order_release);  // R1 release: pairs with A1 in nic_rx/nic_tx
    // A2 acquire: pairs with R2 in nic_rx/nic_tx: the NIC's slot and buffer writes are visible.
    const std::uint32_t done = idx_.k.done.load(std::memory_order_acquire);
    idx_.u.tail = dir_ == netmap_dir::rx ? done : done + num_slots_;
    return true;
  }

  // ---- kernel / NIC side (k), one thread ----
  // RX: the NIC fills up to n slots it owns: fill(slot&, buffer span) -> packet length. Returns how many.
  // With bulk set it fills all n or none.
  template <class Fill>
  std::uint32_t nic_rx(std::uint32_t n, bool bulk, Fill&& fill, std::uint32_t* first_slot = nullptr) noexcept {
    // A1 acquire: pairs with R1 in sync(): the user is done with slots before hwcur.
    const std::uint32_t limit = idx_.u.hwcur.load(std::memory_order_acquire) + num_slots_;
    const std::uint32_t room = limit - idx_.k.next;
    if (n > room) n = bulk ? 0 : room;
    if (n == 0) return 0;
    if (first_slot) *first_slot = idx_.k.next & mask_;
    for (std::uint32_t i = 0; i < n; ++i) {
      netmap_slot& s = slots_[(idx_.k.next + i) & mask_];
      reload_if_changed(s);
      s.len = static_cast<std::uint16_t>(fill(s, pool_->buffer(s.buf_idx)));
    }
    idx_.k.next += n;
    idx_.k.done.store(idx_.k.next, std::memory_order_release);  // R2 release: pairs with A2 in sync()
    return n;
  }
  // TX: the NIC sends up to n of the slots the user handed over: send(const slot&, packet bytes).
  template <class Send>
  std::uint32_t nic_tx(std::uint32_t n, Send&& send) noexcept {
    // A1 acquire: pairs with R1 in sync(): slots before hwcur are filled.
    const std::uint32_t limit = idx_.u.hwcur.load(std::memory_order_acquire);
    n = std::min(n, limit - idx_.k.next);
    for (std::uint32_t i = 0; i < n; ++i) {
      netmap_slot& s = slots_[(idx_.k.next + i) & mask_];
      reload_if_changed(s);
      send(std::as_const(s), std::span<const std::byte>(pool_->buffer(s.buf_idx).first(s.len)));
    }
    idx_.k.next += n;
    if (n) idx_.k.done.store(idx_.k.next, std::memory_order_release);  // R2 release: pairs with A2 in sync()
    return n;
  }
  // How many times the NIC saw NS_BUF_CHANGED and reloaded a buffer address.
  std::uint64_t buf_reloads() const noexcept { return idx_.k.reloads; }
  std::uint32_t num_slots() const noexcept { return num_slots_; }
  std::uint32_t nic_done() const noexcept { return idx_.k.done.load(std::memory_order_acquire); }
  netmap_dir dir() const noexcept { return dir_; }
  // Slots filled by the NIC (rx) / handed to it (tx) and not yet returned; exact when quiescent.
  std::uint32_t nic_pending() const noexcept {
    return dir_ == netmap_dir::rx ? idx_.k.done.load(std::memory_order_acquire) - idx_.u.hwcur.load(std::memory_order_acquire)
                                  : idx_.u.hwcur.load(std::memory_order_acquire) - idx_.k.done.load(std::memory_order_acquire);
  }

 private:
  void reload_if_changed(netmap_slot& s) noexcept {
    if (s.flags & ns_buf_changed) {  // a real driver rewrites the descriptor's DMA address here
      s.flags = static_cast<std::uint16_t>(s.flags & ~ns_buf_changed);
      ++idx_.k.reloads;
    }
  }

  netmap_buffer_pool* pool_;
  const std::uint32_t num_slots_;
  const std::uint32_t mask_;
  const netmap_dir dir_;
  std::unique_ptr<netmap_slot[]> slots_;

 public:
  struct alignas(block_bytes) user_block {
    std::uint32_t head = 0;              // (u) first slot the user owns
    std::uint32_t cur = 0;               // (u) wake-up point
    std::uint32_t tail = 0;              // (k) first slot the kernel owns; written only in sync()
    std::atomic<std::uint32_t> hwcur{};  // (k, written by sync() on the user's thread) head as of sync
  };
  struct alignas(block_bytes) nic_block {
    std::uint32_t next = 0;             // (k) NIC's next slot (private to the NIC thread)
    std::atomic<std::uint32_t> done{};  // (k) NIC finished with slots before this one
    std::uint64_t reloads = 0;          // (k) NS_BUF_CHANGED seen
  };
  struct indices {
    user_block u;
    nic_block k;
  };
  static_assert(std::is_standard_layout_v<indices>);
  static_assert(offsetof(indices, k) - offsetof(indices, u) == block_bytes,
                "user and NIC blocks must sit 128 bytes apart");

 private:
  indices idx_;
};

// The zero-copy move between two rings (netmap's bridge/pkt-gen "swap" loop): the slots exchange
// buffers, both get NS_BUF_CHANGED, and the packet length travels with the buffer. Both slots must be
// owned by the user ([head, tail) of their rings).
inline void swap_buffers(netmap_slot& a, netmap_slot& b) noexcept {
  std::swap(a.buf_idx, b.buf_idx);
  std::swap(a.len, b.len);
  a.flags |= ns_buf_changed;
  b.flags |= ns_buf_changed;
}

// A typed queue over one RX netmap ring: the producer plays the NIC (each item is one "packet" of
// sizeof(T) bytes written into a slot's buffer), the consumer is the netmap user: it syncs when it sees
// fewer than it wants, reads [head, tail), moves head and syncs again to hand the slots back (one
// "ioctl" per burst, where real netmap pays a system call). Used by the registry as "netmap".
template <class T>
class netmap_queue : public burst_and_bulk<netmap_queue<T>, T> {
  friend class burst_and_bulk<netmap_queue<T>, T>;
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 65535);

 public:
  explicit netmap_queue(std::size_t capacity, std::uint32_t initial_index = 0)
      : pool_(ring_size_for(capacity), buf_size()), ring_(pool_, static_cast<std::uint32_t>(capacity), netmap_dir::rx,
                                                          initial_index) {}

  std::size_t capacity() const noexcept { return ring_.num_slots(); }
  // Packets the NIC has written and the user has not consumed yet (exact when quiescent).
  std::size_t size() const noexcept { return ring_.nic_done() - ring_.head(); }
  netmap_ring& ring() noexcept { return ring_; }

 private:
  static std::uint32_t buf_size() { return static_cast<std::uint32_t>((sizeof(T) + 63) / 64 * 64); }

  std::size_t put(std::span<const T> items, bool bulk, std::uint32_t* first_slot) noexcept {
    if (items.size() > ring_.num_slots()) {
      if (bulk) return 0;
      items = items.first(ring_.num_slots());
    }
    std::size_t k = 0;
    return ring_.nic_rx(
        static_cast<std::uint32_t>(items.size()), bulk,
        [&](netmap_slot&, std::span<std::byte> buf) {
          std::memcpy(buf.data(), &items[k++], sizeof(T));
          return sizeof(T);
        },
        first_slot);
  }
  std::size_t get(std::span<T> out, bool bulk, std::uint32_t* first_slot) noexcept {
    if (out.size() > ring_.num_slots()) {
      if (bulk) return 0;
      out = out.first(ring_.num_slots());
    }
    const auto want = static_cast<std::uint32_t>(out.size());
    if (ring_.space() < want) ring_.sync();
    std::uint32_t n = std::min(want, ring_.space());
    if (bulk && n != want) return 0;
    if (first_slot) *first_slot = ring_.head() & (ring_.num_slots() - 1);
    for (std::uint32_t i = 0; i < n; ++i) {
      const netmap_slot& s = ring_.slot(ring_.head() + i);
      std::memcpy(&out[i], ring_.buffer(s).data(), sizeof(T));
    }
    ring_.advance(n);
    // Give the slots back now, as the netmap loop's next poll()/ioctl would; it also refreshes tail.
    if (n) ring_.sync();
    return n;
  }

  netmap_buffer_pool pool_;
  netmap_ring ring_;
};

}  // namespace ringlab::rings
