// Lab 06: netmap's ownership protocol, step by step, on rings/netmap_ring.hpp.
//   netmap_walk            (no arguments: every step is printed, and every number is deterministic)
// One thread plays both the NIC (nic_rx / nic_tx) and the user (head, cur, sync): the ring's rules do
// not depend on timing, so what it prints is the same on every machine and the suite checks it line for
// line. Each step ends with the ring drawn slot by slot, naming who owns each slot and why.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "rings/netmap_ring.hpp"

namespace rings = ringlab::rings;

namespace {

constexpr std::uint32_t slots = 8;

// Who owns the slot at free-running index j, as netmap.h describes it. RX: [hwcur, head) given back by
// the user but not yet synced (the NIC may not refill them), [head, tail) the user's packets,
// [tail, done) filled by the NIC and not yet synced (the user cannot see them), the rest the NIC's to
// fill. TX: [head, tail) the user's free slots, [hwcur, head) filled by the user but not yet synced,
// [done, hwcur) handed to the NIC and not yet sent.
char owner(rings::netmap_ring& r, std::uint32_t j) {
  const std::uint32_t head = r.head(), tail = r.tail(), done = r.nic_done();
  if (r.dir() == rings::netmap_dir::rx) {
    const std::uint32_t hwcur = done - r.nic_pending();
    if (j - hwcur < head - hwcur) return 'r';
    if (j - head < tail - head) return 'U';
    if (j - tail < done - tail) return 'n';
    return 'k';
  }
  const std::uint32_t hwcur = done + r.nic_pending();
  if (j - head < tail - head) return 'U';
  if (j - hwcur < head - hwcur) return 'p';
  if (j - done < hwcur - done) return 's';
  return 'k';
}

void show(const char* name, rings::netmap_ring& r) {
  std::printf("  %s: head=%u cur=%u tail=%u  space (tail - head) %u, poll() would %s\n", name, r.head(), r.cur(),
              r.tail(), r.space(), r.ready() ? "return (tail != cur)" : "sleep (tail == cur)");
  // Slots 0-7 as they sit in memory; slot p stands for the free-running index jj in the window of 8
  // that starts at the oldest slot still in play: hwcur on RX, the NIC's next slot to send on TX.
  const std::uint32_t base = r.dir() == rings::netmap_dir::rx ? r.nic_done() - r.nic_pending() : r.nic_done();
  std::string line_slot = "    slot   ", line_own = "    owner  ", line_buf = "    buf_idx", line_len = "    len    ";
  for (std::uint32_t p = 0; p < slots; ++p) {
    const std::uint32_t jj = base + ((p - base) & (slots - 1));
    const rings::netmap_slot& s = r.slot(jj);
    char b[16];
    std::snprintf(b, sizeof b, "%4u", p);
    line_slot += b;
    std::snprintf(b, sizeof b, "%4c", owner(r, jj));
    line_own += b;
    std::snprintf(b, sizeof b, "%4u", s.buf_idx);
    line_buf += b;
    std::snprintf(b, sizeof b, "%4u", s.len);
    line_len += b;
  }
  std::printf("%s\n%s\n%s\n%s\n", line_slot.c_str(), line_own.c_str(), line_buf.c_str(), line_len.c_str());
}

void step(const char* what) { std::printf("\n== %s\n", what); }

// The NIC writes "pkt N" into each slot it fills; the length is the text's.
std::uint32_t next_packet = 0;
std::uint32_t nic_receive(rings::netmap_ring& rx, std::uint32_t n) {
  return rx.nic_rx(n, false, [](rings::netmap_slot&, std::span<std::byte> buf) {
    char text[16];
    const int len = std::snprintf(text, sizeof text, "pkt %u", next_packet++);
    std::memcpy(buf.data(), text, std::size_t(len));
    return std::size_t(len);
  });
}

std::string_view payload(rings::netmap_ring& r, const rings::netmap_slot& s) {
  return {reinterpret_cast<const char*>(r.buffer(s).data()), s.len};
}

}  // namespace

int main() {
  rings::netmap_buffer_pool pool(24, 64);   // 24 buffers of 64 bytes, as netmap's shared buffer area
  rings::netmap_ring rx(pool, slots, rings::netmap_dir::rx);
  rings::netmap_ring tx(pool, slots, rings::netmap_dir::tx);
  std::printf("one buffer pool of %u buffers; an RX and a TX ring of %u slots take %u each, %zu stay free\n",
              pool.count(), slots, slots, pool.free_count());
  std::printf("owner: U user; k kernel/NIC; RX n = filled by the NIC, not yet synced; RX r = returned by the user,\n"
              "not yet synced; TX p = filled by the user, not yet synced; TX s = handed to the NIC, not yet sent\n");

  step("start: the RX ring is empty (tail == head), the TX ring all free (tail == head + 8)");
  show("rx", rx);
  show("tx", tx);

  step("the NIC receives 5 packets into slots 0-4 (nic_rx); the user's tail does not move");
  std::printf("  nic_rx filled %u\n", nic_receive(rx, 5));
  show("rx", rx);

  step("sync() = ioctl(NIOCRXSYNC): the kernel moves tail to what the NIC finished");
  std::printf("  sync: %s\n", rx.sync() ? "ok" : "refused");
  show("rx", rx);

  step("the user reads 3 packets from [head, tail) and moves head (and cur) past them");
  for (std::uint32_t i = 0; i < 3; ++i) {
    const auto& s = rx.slot(rx.head() + i);
    std::printf("  slot %u buf_idx %u: \"%.*s\"\n", (rx.head() + i) & (slots - 1), s.buf_idx,
                int(payload(rx, s).size()), payload(rx, s).data());
  }
  rx.advance(3);
  show("rx", rx);

  step("the NIC tries to receive 8 more: it may fill only up to the last synced head (hwcur) + 8");
  std::printf("  nic_rx filled %u (slots 5-7; 0-2 are returned but not yet synced)\n", nic_receive(rx, 8));
  show("rx", rx);

  step("sync(): slots 0-2 go back to the NIC, tail moves to the 3 new packets");
  std::printf("  sync: %s\n", rx.sync() ? "ok" : "refused");
  std::printf("  nic_rx filled %u (slots 0-1, reused)\n", nic_receive(rx, 2));
  show("rx", rx);

  step("cur ahead of head: keep the 5 packets (head stays) and sleep until more come (cur = tail)");
  rx.set_head_cur(rx.head(), rx.tail());
  show("rx", rx);
  std::printf("  sync: %s (the 2 new packets: tail passes cur)\n", rx.sync() ? "ok" : "refused");
  show("rx", rx);

  step("a bad head (beyond tail) is refused by sync(), as nm_rxsync_prologue() refuses it; nothing moves");
  const std::uint32_t good_head = rx.head(), good_cur = rx.cur();
  rx.set_head_cur(rx.tail() + 1, rx.tail() + 1);
  const std::uint32_t bad_head = rx.head(), tail = rx.tail();
  const bool refused = !rx.sync();
  std::printf("  head=%u > tail=%u: sync %s\n", bad_head, tail, refused ? "refused" : "ok (WRONG)");
  rx.set_head_cur(good_head, good_cur);
  show("rx", rx);

  step("zero-copy forward: swap RX slot 3's buffer with TX slot 0's (swap_buffers): no byte is copied");
  auto& in = rx.slot(rx.head());
  auto& out = tx.slot(tx.head());
  std::printf("  before: rx slot %u buf_idx %u \"%.*s\", tx slot %u buf_idx %u\n", rx.head() & (slots - 1), in.buf_idx,
              int(payload(rx, in).size()), payload(rx, in).data(), tx.head() & (slots - 1), out.buf_idx);
  rings::swap_buffers(in, out);
  std::printf("  after:  rx slot %u buf_idx %u, tx slot %u buf_idx %u \"%.*s\", both flagged NS_BUF_CHANGED: %s\n",
              rx.head() & (slots - 1), in.buf_idx, tx.head() & (slots - 1), out.buf_idx, int(payload(tx, out).size()),
              payload(tx, out).data(),
              (in.flags & rings::ns_buf_changed) && (out.flags & rings::ns_buf_changed) ? "yes" : "no");
  rx.advance(1);
  tx.advance(1);
  show("rx", rx);
  show("tx", tx);

  step("sync() both rings = ioctl(NIOCTXSYNC) and NIOCRXSYNC: the NIC sends TX slot 0 from buffer 3");
  std::printf("  tx sync: %s, rx sync: %s\n", tx.sync() ? "ok" : "refused", rx.sync() ? "ok" : "refused");
  show("tx", tx);
  const std::uint32_t sent = tx.nic_tx(8, [](const rings::netmap_slot& s, std::span<const std::byte> bytes) {
    std::printf("  NIC sends buf_idx %u: \"%.*s\"\n", s.buf_idx, int(bytes.size()),
                reinterpret_cast<const char*>(bytes.data()));
  });
  std::printf("  nic_tx sent %u; TX buffer reloads (NS_BUF_CHANGED seen) %lu\n", sent, (unsigned long)tx.buf_reloads());
  std::printf("  tx sync: %s\n", tx.sync() ? "ok" : "refused");
  show("tx", tx);

  step("the user is done with the rest; the NIC refills every slot, slot 3 from buffer 8 (got in the swap)");
  rx.advance(rx.space());   // the user is done with the rest
  std::printf("  rx sync: %s\n", rx.sync() ? "ok" : "refused");
  const std::uint32_t refilled = nic_receive(rx, 8);   // before reading the reload count
  std::printf("  nic_rx filled %u; RX buffer reloads (NS_BUF_CHANGED seen) %lu\n", refilled,
              (unsigned long)rx.buf_reloads());
  std::printf("  rx sync: %s\n", rx.sync() ? "ok" : "refused");
  show("rx", rx);
  std::printf("\nbuffers: %u in the pool, %u in each ring, %zu free: every buffer is in exactly one place\n",
              pool.count(), slots, pool.free_count());
  return 0;
}
