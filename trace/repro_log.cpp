#include "trace/repro_log.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ringlab::trace {
namespace {

std::uint32_t fnv32(std::uint32_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<std::uint32_t>((v >> (8 * i)) & 0xff);
    h *= 16777619u;
  }
  return h;
}

// Constant-initialised (no constructor runs), so any static initialiser may use it.
struct log_file {
  std::FILE* f = nullptr;
  std::mutex mu;
};
log_file the_log;

void close_at_exit() {
  (void)drain();   // what nobody drained reaches the file through drain()
  std::lock_guard lk(the_log.mu);
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
  enable(true);
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

void detail::repro_append(const std::vector<event>& drained) noexcept {
  log_file& l = the_log;
  std::lock_guard lk(l.mu);
  if (!l.f) return;
  for (const auto& e : drained) {
    const repro_record r = to_repro_record(e);
    if (std::fwrite(&r, sizeof r, 1, l.f) != 1) {
      std::fprintf(stderr, "ringlab: %s: writing the events file failed\n", repro_events_env);
      std::_Exit(1);
    }
  }
}

}  // namespace ringlab::trace
