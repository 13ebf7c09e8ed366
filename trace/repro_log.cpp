#include "trace/repro_log.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace ringlab::trace {
namespace {

std::uint32_t fnv32(std::uint32_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<std::uint32_t>((v >> (8 * i)) & 0xff);
    h *= 16777619u;
  }
  return h;
}

struct pending_event {
  std::uint64_t t_ns, seq;
  repro_record r;
};

// Constant-initialised (no constructor runs), so any static initialiser may use it.
struct log_file {
  std::FILE* f = nullptr;
  std::mutex mu;
  std::vector<pending_event> pending;   // this window's events, not yet written (at most repro_window)
  pending_event last_written{};         // the latest event written when the window was cut
  bool wrote = false;
  std::uint64_t late = 0;               // events stamped before last_written: out of time order
};
log_file the_log;

void write_records(log_file& l, const pending_event* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (std::fwrite(&p[i].r, sizeof p[i].r, 1, l.f) != 1) {
      std::fprintf(stderr, "ringlab: %s: writing the events file failed\n", repro_events_env);
      std::_Exit(1);
    }
}

bool before(const pending_event& a, const pending_event& b) noexcept {
  return a.t_ns != b.t_ns ? a.t_ns < b.t_ns : a.seq < b.seq;
}

// Writes the window's events in drain()'s order: all of them (`all`: a drain ends the window), or the
// older half, the newer half staying to be sorted with what comes next. Called under l.mu.
void flush_locked(log_file& l, bool all) noexcept {
  if (!l.f || l.pending.empty()) return;
  std::sort(l.pending.begin(), l.pending.end(), before);
  const std::size_t n = all ? l.pending.size() : l.pending.size() / 2;
  write_records(l, l.pending.data(), n);
  l.last_written = l.pending[n - 1];
  l.wrote = true;
  l.pending.erase(l.pending.begin(), l.pending.begin() + static_cast<std::ptrdiff_t>(n));
}

void close_at_exit() {
  (void)drain();   // ends the last window: drain() writes what waits
  std::lock_guard lk(the_log.mu);
  if (the_log.late)
    std::fprintf(stderr, "ringlab: %s: %llu events came more than %zu events after their time: written where they came, "
                         "not in time order (the same run still gives the same file)\n",
                 repro_events_env, static_cast<unsigned long long>(the_log.late), repro_window / 2);
  if (the_log.f) std::fclose(the_log.f);
  the_log.f = nullptr;
}

// Runs at static initialisation, before main(): a run's first event is in the file.
const bool opened = [] {
  const char* path = std::getenv(repro_events_env);
  if (!path || !*path) return false;
  the_log.f = std::fopen(path, "wb");
  if (!the_log.f) {
    // The bundle would be empty: say so at once rather than leave a run that looks recorded.
    std::fprintf(stderr, "ringlab: %s=%s: cannot create the events file\n", repro_events_env, path);
    std::_Exit(1);
  }
  // On for the whole run; enable(), which commands call, only says whether they keep events too.
  detail::enabled_flag.store(true, std::memory_order_relaxed);
  the_log.pending.reserve(repro_window);
  // drain() first builds the recorder's registry, so it is destroyed only after close_at_exit ran
  // (atexit handlers and static destructors run in the reverse order of their registration).
  (void)drain();
  std::atexit(close_at_exit);
  return true;
}();

}  // namespace

repro_record to_repro_record(const event& e) noexcept {
  std::uint32_t h = 2166136261u;
  h = fnv32(h, e.packet_id);
  h = fnv32(h, e.t_ns);
  h = fnv32(h, e.ring_slot);
  h = fnv32(h, e.frame);
  h = fnv32(h, e.queue);
  h = fnv32(h, static_cast<std::uint64_t>(e.stage) | static_cast<std::uint64_t>(e.v) << 8 |
                   static_cast<std::uint64_t>(e.reason) << 16);
  return {e.packet_id, h, static_cast<std::uint8_t>(e.stage), static_cast<std::uint8_t>(e.v),
          static_cast<std::uint8_t>(e.reason), static_cast<std::uint8_t>(e.queue & 0xff)};
}

std::uint64_t repro_hash(std::uint64_t h, const repro_record& r) noexcept {
  auto mix = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(r.packet_id, 8);
  mix(r.hash, 4);
  mix(r.stage, 1);
  mix(r.v, 1);
  mix(r.reason, 1);
  mix(r.queue, 1);
  return h;
}

bool detail::repro_active() noexcept { return opened; }

void detail::repro_log_event(const event& e, std::uint64_t seq) noexcept {
  log_file& l = the_log;
  std::lock_guard lk(l.mu);
  if (!l.f) return;
  if (l.pending.size() == repro_window) flush_locked(l, false);
  const pending_event p{e.t_ns, seq, to_repro_record(e)};
  l.late += l.wrote && before(p, l.last_written);
  l.pending.push_back(p);
}

void detail::repro_flush() noexcept {
  std::lock_guard lk(the_log.mu);
  flush_locked(the_log, true);
}

}  // namespace ringlab::trace
