#include "sim_nic/sim_nic.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>

#include "rings/registry.hpp"
#include "sim_nic/rx_csum.hpp"
#include "sim_nic/tx_csum.hpp"

namespace ringlab::sim {

namespace {
constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
using trace::wire_id_bit;   // packet ids of frames that came over a wire without one (trace/packet_id.hpp)

// Single-writer counters: a load and a store, no read-modify-write on the per-packet path.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace

ring_factory registry_ring_factory() {
  return [](std::string_view name, std::size_t capacity) -> std::unique_ptr<rx_ring> {
    return rings::make_ring<rx_desc>(name, capacity);
  };
}

std::string drop_record::to_string() const {
  std::ostringstream os;
  if (packet_number)
    os << "packet " << packet_number << " at byte offset " << file_offset << " (replay id " << packet_id << ")";
  else
    os << trace::describe_packet(packet_id);   // a wire frame, or a frame a stack sent
  os << ": " << trace::to_string(reason) << " (" << caplen << " bytes captured, " << wirelen << " on the wire";
  if (reason == trace::drop_reason::ring_full || reason == trace::drop_reason::pool_empty) os << ", queue " << queue;
  os << ')';
  return os.str();
}

// One direction of a wire. Frames in flight are the sender's pool frames; refs counts the copies of
// each still on the line (a duplicate is a second delivery of the same frame), written by the sender
// under mu when it pushes and by the receiver when it delivers: the frame is the sender's again (freed
// to its pool) when the count reaches 0.
struct sim_nic::wire_dir {
  wire_dir(link_config c, port::frame_pool& from_pool)
      : cfg(c), line(c.faults, c.seed), from(from_pool), refs(from_pool.config().frames, 0) {}
  mutable std::mutex mu;
  link_config cfg;
  port::fault_line<wire_frame> line;   // guarded by mu
  std::uint64_t link_free = 0;         // guarded by mu: when the sender's last frame finished serialising
  port::frame_pool& from;              // the sender's pool
  std::vector<std::uint8_t> refs;      // by frame id: copies on the line (a frame in flight is not free,
                                       // so its entry has one writer at a time)
  // Drops one copy of f; true when it was the last (the caller frees f.id to `from`).
  bool unref(const wire_frame& f) noexcept { return --refs[f.id] == 0; }
  // Frees whatever is still on the line (the wire is going away).
  void drain() {
    std::lock_guard lk(mu);
    line.drain_all([this](const wire_frame& f) { if (unref(f)) from.free_ids({&f.id, 1}); });
  }
};

// ---------------------------------------------------------------- queue_port

queue_port::queue_port(sim_nic& nic, std::uint16_t q, std::unique_ptr<rx_ring> ring)
    : nic_(nic), q_(q), ring_(std::move(ring)) {
  const std::size_t cap = ring_->capacity();
  slot_mask_ = std::has_single_bit(cap) ? static_cast<std::uint32_t>(cap - 1) : 0;
}

std::size_t queue_port::rx_burst(std::span<port::frame_ref> out) noexcept {
  // Left uninitialised: dequeue_burst writes the descriptors it returns. rx_desc's member initialisers
  // on a plain array zeroed all 64 (2 KiB) per call, ~14 instructions per packet of a 32-frame burst.
  // A std::byte array implicitly creates the rx_desc objects (an aggregate: implicit-lifetime).
  alignas(rx_desc) std::byte raw[sizeof(rx_desc) * 64];
  rx_desc* const d = std::launder(reinterpret_cast<rx_desc*>(raw));
  constexpr std::size_t max_descs = 64;
  std::size_t total = 0;
  const bool tracing = trace::enabled();
  const std::size_t cap = ring_->capacity();
  // Held in locals: the stores into out[] could alias the pool's and this port's fields, which would
  // otherwise be loaded again for every frame. frame_pool::data(id) = data(0) + id * frame_size.
  port::frame_pool& pool = nic_.pool_;
  std::byte* const base = pool.data(0);
  const std::size_t frame_size = pool.config().frame_size;
  const std::uint32_t mask = slot_mask_;
  while (total < out.size()) {
    const std::size_t want = std::min<std::size_t>(max_descs, out.size() - total);
    std::uint32_t slot = 0;
    const std::size_t n = ring_->dequeue_burst({d, want}, &slot);
    for (std::size_t i = 0; i < n; ++i) {
      port::frame_ref& f = out[total + i];
      const rx_desc& x = d[i];
      f.id = x.frame;
      f.bytes = {base + std::size_t{x.frame} * frame_size, x.len};
      f.meta.packet_id = x.packet_id;
      f.meta.t_ns = x.t_ns;
      f.meta.rss_hash = x.rss_hash;
      f.meta.queue = x.queue;
      f.meta.flags = x.flags;
      f.meta.ring_slot = mask ? (slot + static_cast<std::uint32_t>(i)) & mask
                              : static_cast<std::uint32_t>((slot + i) % (cap ? cap : 1));
      if (tracing) [[unlikely]]
        trace::emit({.packet_id = f.meta.packet_id, .t_ns = f.meta.t_ns, .ring_slot = f.meta.ring_slot,
                     .frame = f.id, .queue = q_, .stage = trace::hop::ring_dequeue});
    }
    total += n;
    if (n < want) break;
  }
  return total;
}

void queue_port::rx_release(std::span<const port::frame_ref> frames) noexcept { free_frames(frames); }

port::tx_batch queue_port::tx_reserve(std::size_t n) noexcept {
  // Filled in place: no local array of frame_refs built and copied per reserve.
  return port::tx_batch(this, n, [this](std::span<port::frame_ref> room) {
    return cache_ ? cache_->alloc_burst(room) : nic_.pool_.alloc_burst(room);
  });
}

port::port_caps queue_port::caps() const {
  port::port_caps c;
  c.name = nic_.cfg_.name + "/" + std::to_string(q_);
  c.mtu = nic_.cfg_.mtu;
  c.rx_queues = nic_.cfg_.queues;
  c.tx_queues = nic_.cfg_.queues;
  c.tx_l4_csum = nic_.cfg_.tx_csum_offload;
  return c;
}

port::frame_pool& queue_port::pool() noexcept { return nic_.pool_; }
void queue_port::tx_commit(std::span<port::frame_ref> frames) noexcept { nic_.transmit(q_, frames); }
void queue_port::tx_cancel(std::span<port::frame_ref> frames) noexcept {
  free_frames(std::span<const port::frame_ref>(frames.data(), frames.size()));
}

// ---------------------------------------------------------------- sim_nic

sim_nic::sim_nic(sim_nic_config cfg) : cfg_(std::move(cfg)), pool_(cfg_.pool), rss_(cfg_.queues ? cfg_.queues : 1, cfg_.rss_key) {
  if (cfg_.queues == 0 || cfg_.queues > 256) throw std::invalid_argument("sim_nic: queues must be 1..256");
  if (cfg_.ring_size < 2) throw std::invalid_argument("sim_nic: ring size must be at least 2");
  cfg_.ingest_burst = std::clamp<std::size_t>(cfg_.ingest_burst, 1, 64);
  ring_factory make = cfg_.make_ring ? cfg_.make_ring : registry_ring_factory();
  for (std::uint16_t q = 0; q < cfg_.queues; ++q) {
    std::unique_ptr<rx_ring> r;
    try {
      r = make(cfg_.ring, cfg_.ring_size);
    } catch (const std::exception& e) {
      throw std::invalid_argument("sim_nic: ring '" + cfg_.ring + "': " + e.what());
    }
    if (!r) {
      std::string names;
      for (const auto& d : rings::designs()) names += (names.empty() ? "" : ", ") + std::string(d.name);
      throw std::invalid_argument("unknown ring '" + cfg_.ring + "' (rings: " + names + ")");
    }
    queues_.push_back(std::unique_ptr<queue_port>(new queue_port(*this, q, std::move(r))));
  }
  qc_ = std::make_unique<q_counters[]>(cfg_.queues);
  staged_.resize(cfg_.queues);
  const std::uint32_t lane_cache = cfg_.lane_cache >= 0
      ? std::min<std::uint32_t>(static_cast<std::uint32_t>(cfg_.lane_cache), port::frame_pool::cache::max_size)
      // One queue: none by default, so a single-queue replay keeps the pool's frames where they were
      // (the pool-starvation lab models exactly that); sim_nic_config::lane_cache asks for one.
      : cfg_.queues > 1 ? std::clamp<std::uint32_t>(cfg_.pool.frames / (4u * (cfg_.queues + 1u)), 1, 256) : 0;
  ingest_cache_.emplace(pool_, lane_cache ? lane_cache : 32);
  if (lane_cache)
    for (auto& qp : queues_) qp->cache_.emplace(pool_, lane_cache);
  if (cfg_.rx_faults.any()) rx_faults_ = std::make_unique<port::fault_line<ingress_item>>(cfg_.rx_faults, cfg_.seed);
  if (!cfg_.tx_pcap.empty()) {
    std::string err;
    if (!tx_pcap_.open(cfg_.tx_pcap, &err)) throw std::runtime_error(err);
  }
}

sim_nic::~sim_nic() { tx_pcap_.close(); }   // the pool is ours: frames still in rings go with it

namespace {
// One mean gap between loops: each loop starts that long after the previous one's last frame.
// Saturating: a capture's times reach (2^32-1) s, and the loops of such a trace must stay below
// `never` (a frame due at never is never taken).
std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r;
  return __builtin_add_overflow(a, b, &r) || r == never ? never - 1 : r;
}
// The period, shortened (only for a trace whose loops would pass `never`: times near 2^32 s) so that
// base + (loops - 1) * period + duration stays below it; schedule_next() then needs no check per frame.
std::uint64_t loop_period(std::uint64_t frames, std::uint64_t duration, std::uint64_t base,
                          std::uint64_t loops) noexcept {
  const std::uint64_t p = sat_add(duration, frames > 1 ? duration / (frames - 1) : 1000);
  if (loops < 2) return p;
  const std::uint64_t room = never - 1 - std::min(never - 1, sat_add(base, duration));
  return std::min(p, room / (loops - 1));
}
}  // namespace

void sim_nic::load(const pcap_trace& trace) {
  trace_ = &trace;
  stream_ = nullptr;
  next_index_ = next_rec_ = next_loop_ = 0;
  bits_so_far_ = 0;
  faults_flushed_ = false;
  total_ = trace_frames_total();
  base_ts_ = trace.first_ts();
  loop_period_ = loop_period(trace.records().size(), trace.duration_ns(), base_ts_, cfg_.timing.loops);
  if (total_) next_time_ = schedule_next(trace.records()[0]);
}

void sim_nic::load(pcap_stream& stream) {
  trace_ = nullptr;
  stream_ = &stream;
  next_index_ = next_rec_ = next_loop_ = 0;
  bits_so_far_ = 0;
  faults_flushed_ = false;
  // The frame count and the duration (the loop period) are known when the first pass ends; no frame
  // of the first loop needs them.
  total_ = never;
  loop_period_ = 0;
  if (stream.sequence() != 0 || !stream.error().empty()) stream.restart();   // a new replay: the first record
  const stream_frame* f = stream.peek();
  if (!f) {
    total_ = 0;
    return;
  }
  base_ts_ = stream_last_ts_ = f->rec.ts_ns;
  next_time_ = schedule_next(f->rec);
}

std::string sim_nic::trace_error() const { return stream_ ? stream_->error() : std::string{}; }

std::uint64_t sim_nic::trace_frames_total() const noexcept {
  if (stream_) return total_ == never ? 0 : total_;
  return trace_ ? trace_->records().size() * std::uint64_t{cfg_.timing.loops ? cfg_.timing.loops : 1} : 0;
}

std::uint64_t sim_nic::schedule_next(const trace_record& r) noexcept {
  const std::uint64_t base = base_ts_;
  const replay_timing& tm = cfg_.timing;
  switch (tm.mode) {
    case pacing::pps:
      return base + static_cast<std::uint64_t>(static_cast<double>(next_index_) * (1e9 / tm.pps));
    case pacing::mbps: {
      // bits before this frame / rate; then this frame's bits count for the next one.
      const auto t = base + static_cast<std::uint64_t>(static_cast<double>(bits_so_far_) * 1e3 / tm.mbps);
      bits_so_far_ += std::uint64_t{r.wirelen} * 8;
      return t;
    }
    case pacing::afap:
    case pacing::recorded:
    default: {
      // No overflow here: loop_period() keeps the last loop's last frame below `never`.
      const std::uint64_t off = next_loop_ * loop_period_ + (r.ts_ns >= base ? r.ts_ns - base : 0);
      if (tm.mode == pacing::afap || tm.speed == 1.0 || !(tm.speed > 0)) return base + off;
      return base + static_cast<std::uint64_t>(static_cast<double>(off) / tm.speed);
    }
  }
}

bool sim_nic::next_trace_time(std::uint64_t& t) const noexcept {
  if (next_index_ >= total_) return false;   // total_ is 0 with nothing loaded
  t = next_time_;
  return true;
}

std::uint64_t sim_nic::wire_next_due() const noexcept {
  if (!rx_wire_) return never;
  std::lock_guard lk(rx_wire_->mu);
  auto d = rx_wire_->line.next_due();
  return d ? *d : never;
}

std::optional<std::uint64_t> sim_nic::next_due() const {
  std::uint64_t best = never, t = 0;
  if (next_trace_time(t)) best = t;
  if (rx_faults_)
    if (auto d = rx_faults_->next_due(); d && *d < best) best = *d;
  best = std::min(best, wire_next_due());
  if (best == never) return std::nullopt;
  return best;
}

bool sim_nic::done() const {
  std::uint64_t t = 0;
  return !next_trace_time(t) && (!rx_faults_ || rx_faults_->pending() == 0) && wire_next_due() == never;
}

void sim_nic::set_clock(std::uint64_t t) noexcept {
  if (t > clock_.load(std::memory_order_relaxed)) clock_.store(t, std::memory_order_release);   // R1: pairs with A1
}

std::size_t sim_nic::advance_to(std::uint64_t t_ns) noexcept {
  const std::size_t n = run(t_ns, never);
  set_clock(t_ns);
  return n;
}

std::size_t sim_nic::advance_to(std::uint64_t t_ns, std::size_t budget) noexcept {
  const std::size_t n = run(t_ns, budget);
  if (const auto d = next_due(); !d || *d > t_ns) set_clock(t_ns);
  return n;
}

std::size_t sim_nic::step(std::size_t budget) noexcept { return run(never, budget); }

void sim_nic::advance_stream() noexcept {
  stream_last_ts_ = std::max(stream_last_ts_, stream_->peek()->rec.ts_ns);   // the latest (pcap_trace::duration_ns)
  stream_->pop();
  ++next_rec_;
  const stream_frame* f = stream_->peek();
  if (!f && stream_->error().empty()) {
    // The end of the file. After the first pass its frame count and duration are known.
    if (next_loop_ == 0) {
      total_ = next_rec_ * std::uint64_t{cfg_.timing.loops ? cfg_.timing.loops : 1};
      loop_period_ = loop_period(next_rec_, stream_last_ts_ - base_ts_, base_ts_, cfg_.timing.loops);
    }
    if (next_index_ < total_ && stream_->rewind()) {
      next_rec_ = 0;
      ++next_loop_;
      f = stream_->peek();
    }
  }
  if (!f) {
    total_ = next_index_;   // the trace ends here (the last loop, or a read error: trace_error())
    return;
  }
  next_time_ = schedule_next(f->rec);
}

const trace_record* sim_nic::record_of(std::uint64_t packet_id) const noexcept {
  if (packet_id & (wire_id_bit | trace::tx_id_bit)) return nullptr;
  if (stream_) return stream_->find(packet_id - 1);
  const std::uint64_t n = trace_ ? trace_->records().size() : 0;
  return n ? &trace_->records()[(packet_id - 1) % n] : nullptr;
}

template <bool Stream>
[[gnu::always_inline]] inline std::size_t sim_nic::run_frames(std::uint64_t limit, std::size_t budget) noexcept {
  std::size_t handled = 0;
  const std::uint64_t total = total_;
  const bool tracing = trace::enabled();
  std::uint64_t trace_frames = 0;
  while (handled < budget) {
    std::uint64_t best = never, t = 0;
    int src = -1;
    if (next_trace_time(t) && t <= limit) { best = t; src = 0; }
    if (rx_faults_)
      if (auto d = rx_faults_->next_due(); d && *d <= limit && *d < best) { best = *d; src = 1; }
    if (rx_wire_)
      if (const std::uint64_t w = wire_next_due(); w <= limit && w < best) { best = w; src = 2; }
    if (src < 0) break;
    set_clock(best);
    if (src == 0 && Stream) {
      // A stream's frame goes in before the stream moves on (its bytes live until then); a held copy
      // when the fault line may keep it.
      const std::uint64_t idx = next_index_++;
      const stream_frame& fr = *stream_->peek();
      ++trace_frames;
      if (tracing) [[unlikely]] trace::emit({.packet_id = idx + 1, .t_ns = now(), .stage = trace::hop::nic_rx});
      if (!rx_faults_) {
        receive(fr.bytes, fr.rec.wirelen, idx + 1, &fr.rec, nullptr, tracing);
        ++handled;
        advance_stream();
      } else {
        auto held = std::make_shared<const held_frame>(held_frame{fr.rec, {fr.bytes.begin(), fr.bytes.end()}});
        if (!rx_faults_->push({idx, std::move(held)}, now())) {
          trace::emit({.packet_id = idx + 1, .t_ns = now(), .stage = trace::hop::fault,
                       .v = trace::verdict::drop, .reason = trace::drop_reason::fault_injected});
          ++handled;
        }
        advance_stream();
        if (next_index_ >= total_ && !faults_flushed_) {
          rx_faults_->flush(now());
          faults_flushed_ = true;
        }
      }
    } else if (src == 0) {
      const std::uint64_t idx = next_index_++;
      const trace_record& rec = trace_->records()[next_rec_];
      ++trace_frames;
      if (++next_rec_ == trace_->records().size()) { next_rec_ = 0; ++next_loop_; }
      if (next_index_ < total) next_time_ = schedule_next(trace_->records()[next_rec_]);
      if (tracing) [[unlikely]] trace::emit({.packet_id = idx + 1, .t_ns = now(), .stage = trace::hop::nic_rx});
      if (!rx_faults_) {
        receive(trace_->bytes(rec), rec.wirelen, idx + 1, &rec, nullptr, tracing);
        ++handled;
      } else {
        if (!rx_faults_->push({idx}, now())) {
          trace::emit({.packet_id = idx + 1, .t_ns = now(), .stage = trace::hop::fault,
                       .v = trace::verdict::drop, .reason = trace::drop_reason::fault_injected});
          ++handled;
        }
        if (next_index_ >= total && !faults_flushed_) {
          rx_faults_->flush(now());
          faults_flushed_ = true;
        }
      }
    } else if (src == 1) {
      auto o = rx_faults_->pop_ready(best);
      if (!o) break;   // cannot happen: next_due() said one is due by best
      if (Stream) {
        const held_frame& h = *o->item.held;
        receive(h.bytes, h.rec.wirelen, o->item.index + 1, &h.rec, &o->mark, tracing);
      } else {
        const trace_record& rec = trace_->records()[o->item.index % trace_->records().size()];
        receive(trace_->bytes(rec), rec.wirelen, o->item.index + 1, &rec, &o->mark, tracing);
      }
      ++handled;
    } else {
      // The wire's frames due before the other sources' next one, as a burst. Nothing they hold
      // changes while wire frames go in, so the time order is the one a frame-by-frame loop gives.
      std::uint64_t other = never;
      if (next_trace_time(t) && t <= limit) other = t;
      if (rx_faults_)
        if (auto d = rx_faults_->next_due(); d && *d <= limit && *d < other) other = *d;
      handled += deliver_wire(limit, other, budget - handled, tracing);
    }
  }
  flush_staged();
  if (trace_frames) bump(trace_frames_, trace_frames);
  if (rx_faults_) {
    std::lock_guard lk(fault_mu_);
    fault_copy_ = rx_faults_->counters();
  }
  if (!next_due()) return_cache();
  return handled;
}

// The loaded trace's loop is inlined here (run_frames is always_inline): a stream costs the loaded
// path one test per call, not a call (callgrind_rx counts sim_nic::step's instructions per packet).
std::size_t sim_nic::run(std::uint64_t limit, std::size_t budget) noexcept {
  if (stream_) [[unlikely]] return run_stream(limit, budget);
  return run_frames<false>(limit, budget);
}

std::size_t sim_nic::run_stream(std::uint64_t limit, std::size_t budget) noexcept { return run_frames<true>(limit, budget); }

std::size_t sim_nic::deliver_wire(std::uint64_t limit, std::uint64_t before, std::size_t budget, bool tracing) noexcept {
  using item = port::fault_line<wire_frame>::out_item;
  constexpr std::size_t max_burst = 32;
  item got[max_burst];
  std::uint64_t at[max_burst];
  std::size_t n = 0, handled = 0;
  wire_dir& w = *rx_wire_;
  {
    std::lock_guard lk(w.mu);
    while (n < max_burst && handled < budget) {
      const auto d = w.line.next_due();
      if (!d || *d > limit || *d >= before) break;
      auto o = w.line.pop_ready(*d);
      ++handled;
      if (!o) break;   // cannot happen: next_due() said one is due by *d
      at[n] = *d;
      got[n++] = *o;
    }
  }
  port::frame_id done[max_burst];
  std::size_t n_done = 0;
  for (std::size_t i = 0; i < n; ++i) {
    set_clock(at[i]);
    bump(wire_rx_);
    const wire_frame& f = got[i].item;
    // A frame a stack sent keeps its id (its route from the sender's tx to the peer's delivery is one
    // packet); one without an id is numbered here.
    const std::uint64_t id = f.packet_id ? f.packet_id : wire_id_bit | ++wire_ids_;
    trace::emit({.packet_id = id, .t_ns = now(), .stage = trace::hop::nic_rx});
    wire_flags_ = f.csum_partial ? std::uint16_t{port::rx_l4_csum_good} : std::uint16_t{0};
    receive({f.data, f.len}, f.len, id, nullptr, &got[i].mark, tracing);   // the one copy
    wire_flags_ = 0;
    if (w.unref(f)) done[n_done++] = f.id;
  }
  if (n_done) w.from.free_ids({done, n_done});   // one lock on the sender's pool per burst
  return handled;
}

port::frame_ref sim_nic::take_frame() noexcept { return ingest_cache_->alloc(); }

void sim_nic::return_cache() noexcept { ingest_cache_->flush(); }

void sim_nic::log_drop(const drop_record& d) {
  std::lock_guard lk(log_mu_);
  if (drops_.size() < cfg_.drop_log_max) drops_.push_back(d);
}

void sim_nic::receive(std::span<const std::byte> bytes, std::uint32_t wirelen, std::uint64_t packet_id,
                      const trace_record* rec, const port::fault_mark* mark, bool tracing) noexcept {
  const std::uint64_t t = clock_.load(std::memory_order_relaxed);   // (P): our own store
  auto drop = [&](trace::drop_reason why, trace::hop at, std::uint16_t q) {
    trace::emit({.packet_id = packet_id, .t_ns = t, .queue = q, .stage = at, .v = trace::verdict::drop, .reason = why});
    drop_record d;
    d.packet_id = packet_id;
    d.packet_number = rec ? rec->number : 0;
    d.file_offset = rec ? rec->file_offset : 0;
    d.caplen = static_cast<std::uint32_t>(bytes.size());
    d.wirelen = wirelen;
    d.queue = q;
    d.reason = why;
    log_drop(d);
  };
  if (rec && rec->caplen < rec->wirelen) {
    bump(rx_snap_);
    return drop(trace::drop_reason::snap_truncated, trace::hop::nic_rx, 0);
  }
  if (bytes.size() < cfg_.runt_len) {
    bump(rx_runt_);
    return drop(trace::drop_reason::runt, trace::hop::nic_rx, 0);
  }
  if (bytes.size() > std::size_t{cfg_.mtu} + 18 || bytes.size() > pool_.room()) {
    bump(rx_oversize_);
    return drop(trace::drop_reason::oversize, trace::hop::nic_rx, 0);
  }
  std::uint32_t hash = 0;
  std::uint16_t q = 0;
  if (cfg_.queues > 1 || cfg_.rss_one_queue) {
    hash = rss_.hash(extract_rss_tuple(bytes, cfg_.rss_l4));
    q = rss_.queue_of(hash);
  }
  if (tracing) [[unlikely]] trace::emit({.packet_id = packet_id, .t_ns = t, .queue = q, .stage = trace::hop::rss});
  port::frame_ref f = take_frame();
  if (!f.valid()) {
    bump(qc_[q].rx_nombuf);
    return drop(trace::drop_reason::pool_empty, trace::hop::pool, q);
  }
  std::memcpy(f.bytes.data(), bytes.data(), bytes.size());   // the one copy on the receive path
  if (mark && mark->corrupt && !bytes.empty()) f.bytes[mark->offset % bytes.size()] ^= std::byte{mark->mask};
  if (tracing) [[unlikely]]
    trace::emit({.packet_id = packet_id, .t_ns = t, .frame = f.id, .queue = q, .stage = trace::hop::pool});
  // RX checksum offload: the NIC checks the frame as it lands (after a fault corrupted it, as the wire would).
  // A peer's frame whose checksum it left partial (tx_csum_offload) is good by construction: handed up
  // as such and never summed, as a veth's CHECKSUM_PARTIAL skb is CHECKSUM_UNNECESSARY to its peer.
  const std::uint16_t flags = cfg_.rx_csum_offload && !wire_flags_ ? rx_checksum_flags(f.bytes.first(bytes.size()))
                                                                    : wire_flags_;
  staged& s = staged_[q];
  s.d[s.n++] = rx_desc{f.id, static_cast<std::uint32_t>(bytes.size()), packet_id, t, hash, q, flags};
  if (s.n >= cfg_.ingest_burst) flush_queue(q);
}

void sim_nic::flush_staged() noexcept {
  for (std::uint16_t q = 0; q < cfg_.queues; ++q)
    if (staged_[q].n) flush_queue(q);
}

void sim_nic::flush_queue(std::uint16_t q) noexcept {
  staged& s = staged_[q];
  queue_port& qp = *queues_[q];
  std::uint32_t slot = 0;
  const std::size_t k = qp.ring_->enqueue_burst({s.d.data(), s.n}, &slot);
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < k; ++i) bytes += s.d[i].len;
  bump(qc_[q].ipackets, k);
  bump(qc_[q].ibytes, bytes);
  if (trace::enabled()) [[unlikely]] {
    const std::size_t cap = qp.ring_->capacity();
    for (std::size_t i = 0; i < k; ++i)
      trace::emit({.packet_id = s.d[i].packet_id, .t_ns = s.d[i].t_ns,
                   .ring_slot = qp.slot_mask_ ? (slot + static_cast<std::uint32_t>(i)) & qp.slot_mask_
                                              : static_cast<std::uint32_t>((slot + i) % (cap ? cap : 1)),
                   .frame = s.d[i].frame, .queue = q, .stage = trace::hop::ring_enqueue});
  }
  if (k < s.n) {
    bump(qc_[q].imissed, s.n - k);
    for (std::size_t i = k; i < s.n; ++i) {
      const rx_desc& d = s.d[i];
      trace::emit({.packet_id = d.packet_id, .t_ns = d.t_ns, .frame = d.frame, .queue = q,
                   .stage = trace::hop::ring_enqueue, .v = trace::verdict::drop,
                   .reason = trace::drop_reason::ring_full});
      drop_record r;
      r.packet_id = d.packet_id;
      if (const trace_record* rec = record_of(d.packet_id)) {
        r.packet_number = rec->number;
        r.file_offset = rec->file_offset;
        r.wirelen = rec->wirelen;
      }
      r.caplen = d.len;
      r.queue = q;
      r.reason = trace::drop_reason::ring_full;
      log_drop(r);
      ingest_cache_->free_ids({&d.frame, 1});
    }
  }
  s.n = 0;
}

void sim_nic::transmit(std::uint16_t q, std::span<port::frame_ref> frames) noexcept {
  const std::uint64_t t = now();
  std::uint64_t bytes = 0;
  for (const auto& f : frames) bytes += f.bytes.size();
  qc_[q].opackets.fetch_add(frames.size(), std::memory_order_relaxed);
  qc_[q].obytes.fetch_add(bytes, std::memory_order_relaxed);
  if (!tx_wire_) {
    for (const auto& f : frames) {
      if (f.meta.flags & port::tx_l4_csum_partial) finish_l4_checksum(f.bytes);   // the "device" finishes it
      if (tx_pcap_.is_open()) tx_pcap_.write(t, f.bytes);
      trace::emit({.packet_id = f.meta.packet_id, .t_ns = t, .frame = f.id, .queue = q,
                   .stage = trace::hop::nic_tx, .v = trace::verdict::tx});
    }
    queues_[q]->free_frames(std::span<const port::frame_ref>(frames.data(), frames.size()));
    return;
  }
  // Onto the wire: the frames stay lent to it until delivered; those the line drops go back now.
  // The wire's lock is taken once per burst.
  wire_dir& w = *tx_wire_;
  std::size_t n_free = 0;   // dropped frames, compacted to the front of `frames`
  // A partial checksum stays partial across the wire unless something looks at the bytes: our TX pcap
  // (tshark must see the finished checksum), or a line that may corrupt them (the receiver's software
  // check must catch the damage, so the checksum is finished before it).
  const bool finish_all = tx_pcap_.is_open() || w.cfg.faults.corrupt > 0;
  {
    std::lock_guard lk(w.mu);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const port::frame_ref f = frames[i];
      bool partial = (f.meta.flags & port::tx_l4_csum_partial) != 0;
      if (partial && finish_all) partial = !finish_l4_checksum(f.bytes);
      if (tx_pcap_.is_open()) tx_pcap_.write(t, f.bytes);
      trace::emit({.packet_id = f.meta.packet_id, .t_ns = t, .frame = f.id, .queue = q,
                   .stage = trace::hop::nic_tx, .v = trace::verdict::tx});
      const std::uint64_t depart = std::max(t, w.link_free);
      const std::uint64_t ser = w.cfg.bandwidth_bps > 0
          ? static_cast<std::uint64_t>(static_cast<long double>(f.bytes.size()) * 8e9L / w.cfg.bandwidth_bps)
          : 0;
      w.link_free = depart + ser;
      const std::uint64_t arrival = w.link_free + w.cfg.latency_ns;
      w.refs[f.id] = 1;
      const bool kept = w.line.push(wire_frame{f.bytes.data(), static_cast<std::uint32_t>(f.bytes.size()), f.id,
                                               f.meta.packet_id, partial},
                                    arrival, [&w](const wire_frame& x) {
                                      ++w.refs[x.id];   // a duplicate: the same frame delivered twice
                                      return std::optional<wire_frame>(x);
                                    });
      trace::emit({.packet_id = f.meta.packet_id, .t_ns = arrival, .frame = f.id, .queue = q, .stage = trace::hop::wire,
                   .v = kept ? trace::verdict::pass : trace::verdict::drop,
                   .reason = kept ? trace::drop_reason::none : trace::drop_reason::fault_injected});
      if (!kept) {
        w.refs[f.id] = 0;
        frames[n_free++] = f;
      }
    }
    bump(wire_tx_, frames.size());   // under the lock: the NIC's queues may send on their own threads
  }
  if (n_free) queues_[q]->free_frames(std::span<const port::frame_ref>(frames.data(), n_free));
}

nic_counters sim_nic::counters() const {
  nic_counters c;
  c.queue.resize(cfg_.queues);
  for (std::uint16_t q = 0; q < cfg_.queues; ++q) {
    auto& s = qc_[q];
    auto& o = c.queue[q];
    o.ipackets = s.ipackets.load(std::memory_order_relaxed);
    o.ibytes = s.ibytes.load(std::memory_order_relaxed);
    o.imissed = s.imissed.load(std::memory_order_relaxed);
    o.rx_nombuf = s.rx_nombuf.load(std::memory_order_relaxed);
    o.opackets = s.opackets.load(std::memory_order_relaxed);
    o.obytes = s.obytes.load(std::memory_order_relaxed);
    c.total.ipackets += o.ipackets; c.total.ibytes += o.ibytes; c.total.imissed += o.imissed;
    c.total.rx_nombuf += o.rx_nombuf; c.total.opackets += o.opackets; c.total.obytes += o.obytes;
  }
  c.rx_runt = rx_runt_.load(std::memory_order_relaxed);
  c.rx_oversize = rx_oversize_.load(std::memory_order_relaxed);
  c.rx_snap_truncated = rx_snap_.load(std::memory_order_relaxed);
  c.trace_frames = trace_frames_.load(std::memory_order_relaxed);
  c.wire_rx = wire_rx_.load(std::memory_order_relaxed);
  c.wire_tx = wire_tx_.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(fault_mu_);
    c.rx_faults = fault_copy_;
  }
  return c;
}

std::vector<drop_record> sim_nic::drop_log() const {
  std::lock_guard lk(log_mu_);
  return drops_;
}

// ---------------------------------------------------------------- wire

wire::wire(sim_nic& a, sim_nic& b, link_config a_to_b, link_config b_to_a)
    : a_(a), b_(b), ab_(std::make_unique<sim_nic::wire_dir>(a_to_b, a.pool_)),
      ba_(std::make_unique<sim_nic::wire_dir>(b_to_a, b.pool_)) {
  a_.tx_wire_ = ab_.get();
  b_.rx_wire_ = ab_.get();
  b_.tx_wire_ = ba_.get();
  a_.rx_wire_ = ba_.get();
}

wire::~wire() {
  ab_->drain();   // frames still in flight go back to their senders' pools
  ba_->drain();
  a_.tx_wire_ = a_.rx_wire_ = nullptr;
  b_.tx_wire_ = b_.rx_wire_ = nullptr;
}

port::fault_counters wire::counters_a_to_b() const {
  std::lock_guard lk(ab_->mu);
  return ab_->line.counters();
}
port::fault_counters wire::counters_b_to_a() const {
  std::lock_guard lk(ba_->mu);
  return ba_->line.counters();
}

}  // namespace ringlab::sim
