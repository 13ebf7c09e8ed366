#pragma once
// sim_nic: a simulated multi-queue NIC that replays a pcap trace into per-queue RX descriptor rings.
//
//   trace blob ──(clock: due?)──► [rx faults] ──► checks (snaplen, runt, oversize)
//        ──► RSS (Toeplitz + RETA) ──► pool frame (the one copy) ──► RX ring of queue q ──► queue_port q
//   queue_port q ──tx_commit──► output pcap and/or a wire to a peer sim_nic (latency, bandwidth, faults)
//
// Threads: the ingest side (advance_to, step) is one producer thread; each queue_port is used by one
// consumer thread (one stack instance per queue, share-nothing). Ingest may run on its own thread
// while the queues are polled on others, or everything runs on one thread, ingest then poll, which is
// deterministic: the same trace, config and seed give the same frames, counters and trace events.
// The rings are the only hand-off between producer and consumers; counters are single-writer relaxed
// atomics that any thread may sample; the pool, the TX pcap and the wire have their own locks.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "port/fault_line.hpp"
#include "port/frame_pool.hpp"
#include "port/pcap_tap.hpp"
#include "port/port.hpp"
#include "trace/packet_id.hpp"
#include "trace/trace.hpp"
#include "rings/any_ring.hpp"
#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "sim_nic/rss.hpp"

namespace ringlab::sim {

// One RX descriptor, as a NIC writes it into a descriptor ring (32 bytes).
struct rx_desc {
  port::frame_id frame = port::no_frame;
  std::uint32_t len = 0;
  std::uint64_t packet_id = 0;
  std::uint64_t t_ns = 0;
  std::uint32_t rss_hash = 0;
  std::uint16_t queue = 0;
  std::uint16_t flags = 0;
};
static_assert(sizeof(rx_desc) == 32);

using rx_ring = rings::any_ring<rx_desc>;
using ring_factory = std::function<std::unique_ptr<rx_ring>(std::string_view name, std::size_t capacity)>;
// The rings/ registry (make_ring<rx_desc>); nullptr result for an unknown name.
ring_factory registry_ring_factory();

// How trace frames are spaced in time (tcpreplay's options).
enum class pacing {
  afap,       // as fast as possible: virtual time stamps are the recorded ones, no waiting on a real clock
  recorded,   // recorded spacing divided by speed (1.0: as captured)
  pps,        // a fixed packet rate
  mbps,       // a fixed bit rate (frame bytes on the wire x 8)
};
struct replay_timing {
  pacing mode = pacing::afap;
  double speed = 1.0;
  double pps = 0;
  double mbps = 0;
  std::uint32_t loops = 1;
};

// One direction of a simulated wire.
struct link_config {
  std::uint64_t latency_ns = 0;
  double bandwidth_bps = 0;   // 0: no serialisation delay
  port::fault_spec faults;
  std::uint64_t seed = 1;
};

struct sim_nic_config {
  std::string name = "sim_nic";
  std::uint16_t queues = 1;
  std::string ring = "spsc";            // a rings/ registry name
  std::uint32_t ring_size = 1024;       // descriptors per RX ring
  port::frame_pool_config pool{};
  std::array<std::uint8_t, rss_key_size> rss_key = default_rss_key;
  bool rss_l4 = true;                   // hash TCP/UDP ports (4-tuple); false: IPv4 2-tuple only
  bool rss_one_queue = false;           // hash even with one queue (rx_meta.rss_hash); off: hash 0, as a
                                        // NIC with RSS disabled, and the parse is skipped
  std::uint32_t mtu = 1500;             // frames longer than mtu + 18 (Ethernet + one VLAN tag) are oversize
  std::uint32_t runt_len = 14;          // frames shorter than an Ethernet header are runts
  replay_timing timing;
  port::fault_spec rx_faults;           // faults between the trace and the NIC
  std::uint64_t seed = 1;
  std::string tx_pcap;                  // write transmitted frames here ("" : none)
  ring_factory make_ring;               // empty: registry_ring_factory()
  std::size_t drop_log_max = 64;        // keep the first N drop records (packet number, offset, reason)
  std::size_t ingest_burst = 32;        // descriptors staged per queue before an enqueue_burst
  // RX checksum offload (sim_nic/rx_csum.hpp): check IPv4 header and UDP/TCP checksums at ingest and
  // set rx_meta flags good/bad. Off by default, as `ethtool -K rx off`: the stack's software checks
  // are then what is exercised (and a trace replays identically either way).
  bool rx_csum_offload = false;
  // TX checksum offload (sim_nic/tx_csum.hpp; caps().tx_l4_csum): the stack may send TCP/UDP frames
  // with the checksum partial (port::tx_l4_csum_partial). The NIC finishes it for its TX pcap, for a
  // frame without a wire, and before a wire whose faults corrupt; otherwise the frame crosses sim's
  // wire as it is and the peer NIC hands it up marked rx_l4_csum_good, as Linux's loopback and veth
  // hand CHECKSUM_PARTIAL skbs to the receiving stack, which never sums them. Off by default (`ethtool
  // -K tx off`): the stack then computes every checksum in software.
  bool tx_csum_offload = false;
  // Frames per lane cache (port::frame_pool::cache, as DPDK's mempool cache): each queue's consumer
  // frees (rx_release, tx) and allocates (tx_reserve) through its own cache, the ingest thread
  // allocates through its own, so they meet on the pool's lock once per cache-full instead of once
  // per burst. -1: with 2+ queues pool frames / (4 x (queues + 1)), at most 256; with one queue 0.
  // 0: no queue caches (every queue burst takes the pool's lock; the ingest side keeps a 32-frame
  // cache), what a single-queue replay does by default and the comparison point of bench/lanes.
  // Frames sitting in caches are not out but cannot be allocated elsewhere: size the pool for
  // (queues + 1) x 1.5 x the cache on top of rings and sockets, as DPDK's documentation says.
  std::int32_t lane_cache = -1;
};

struct queue_counters {
  std::uint64_t ipackets = 0, ibytes = 0;
  std::uint64_t imissed = 0;     // the RX ring was full
  std::uint64_t rx_nombuf = 0;   // the pool had no frame
  std::uint64_t opackets = 0, obytes = 0;
};

struct nic_counters {
  std::vector<queue_counters> queue;
  queue_counters total;
  std::uint64_t rx_runt = 0, rx_oversize = 0, rx_snap_truncated = 0;   // ierrors, by reason
  std::uint64_t trace_frames = 0;                                       // frames read from the trace so far
  port::fault_counters rx_faults;
  std::uint64_t wire_rx = 0, wire_tx = 0;                               // frames from / to a peer
  std::uint64_t ierrors() const noexcept { return rx_runt + rx_oversize + rx_snap_truncated; }
};

// One dropped frame, with where it came from in the file.
struct drop_record {
  std::uint64_t packet_id = 0;       // replay packet id (loop * frames + number)
  std::uint64_t packet_number = 0;   // in the file (0: it came from a wire)
  std::uint64_t file_offset = 0;
  std::uint32_t caplen = 0, wirelen = 0;
  std::uint16_t queue = 0;
  trace::drop_reason reason = trace::drop_reason::none;
  std::string to_string() const;
};

class sim_nic;
class wire;

// Queue q of a sim_nic as a port: one consumer thread per queue.
class queue_port final : public port::any_port {
 public:
  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override;
  void rx_release(std::span<const port::frame_ref> frames) noexcept override;
  port::tx_batch tx_reserve(std::size_t n) noexcept override;
  port::port_caps caps() const override;
  port::frame_pool& pool() noexcept override;
  port::frame_ref alloc_frame() noexcept override { return cache_ ? cache_->alloc() : pool().alloc(); }
  void free_frame(const port::frame_ref& f) noexcept override { free_frames({&f, 1}); }
  void tx_commit(std::span<port::frame_ref> frames) noexcept override;
  void tx_cancel(std::span<port::frame_ref> frames) noexcept override;
  std::uint16_t index() const noexcept { return q_; }
  rx_ring& ring() noexcept { return *ring_; }

 private:
  friend class sim_nic;
  queue_port(sim_nic& nic, std::uint16_t q, std::unique_ptr<rx_ring> ring);
  sim_nic& nic_;
  std::uint16_t q_;
  std::unique_ptr<rx_ring> ring_;
  std::uint32_t slot_mask_;   // ring capacity - 1 when a power of two, else 0 (slots taken modulo)
  std::optional<port::frame_pool::cache> cache_;   // this queue's consumer's lane cache (none: the pool)
  void free_frames(std::span<const port::frame_ref> frames) noexcept {
    if (cache_) cache_->free_burst(frames); else pool().free_burst(frames);
  }
};

class sim_nic {
 public:
  // Throws std::invalid_argument for a bad config (unknown ring name, zero queues, bad pool) and
  // std::runtime_error when the TX pcap cannot be opened: construction is the edge.
  explicit sim_nic(sim_nic_config cfg);
  sim_nic(const sim_nic&) = delete;
  sim_nic& operator=(const sim_nic&) = delete;
  ~sim_nic();

  // Replays this trace (kept by reference; it must outlive the replay). Resets the replay position.
  void load(const pcap_trace& trace);
  // Replays this stream from its first record (kept by reference; it must outlive the replay): the
  // same frames, times, counters and trace events as the file loaded as a pcap_trace, with memory
  // bounded by the stream's window whatever the file's size. The frame count is known once the first
  // pass ends (trace_frames_total() is 0 until then). A read error ends the trace at that record;
  // trace_error() names the file, packet and byte offset.
  void load(pcap_stream& stream);
  // Why the trace ended early ("" : it did not; a loaded pcap_trace never does).
  std::string trace_error() const;

  // ---- ingest: one thread ----
  // The earliest time a frame is due (trace, held by faults, or arriving on a wire); nullopt: none now.
  std::optional<std::uint64_t> next_due() const;
  // Advances the virtual clock to t and moves every frame due by then into the rings. Returns frames handled.
  std::size_t advance_to(std::uint64_t t_ns) noexcept;
  // The same with at most `budget` frames: the clock stops at the last frame moved while frames due by
  // t remain, else reaches t (event_loop's step: the stacks poll between bursts at each burst's time).
  std::size_t advance_to(std::uint64_t t_ns, std::size_t budget) noexcept;
  // Moves up to `budget` frames in time order, advancing the clock to each one's time (AFAP on the
  // virtual clock). Returns frames handled (0: nothing is due).
  std::size_t step(std::size_t budget) noexcept;
  // The trace is over and no frame is held or in flight to this NIC.
  bool done() const;
  std::uint64_t now() const noexcept { return clock_.load(std::memory_order_acquire); }   // A1: pairs with R1
  // Gives the ingest side's cached free frames back to the pool's shared list (they never count as
  // out: pool().out() counts frames in rings or held by consumers). Ingest thread only.
  void return_cache() noexcept;

  // ---- queues and state ----
  queue_port& queue(std::uint16_t q) noexcept { return *queues_[q]; }
  std::uint16_t queues() const noexcept { return cfg_.queues; }
  port::frame_pool& pool() noexcept { return pool_; }
  const sim_nic_config& config() const noexcept { return cfg_; }
  const rss_hasher& rss() const noexcept { return rss_; }
  rss_hasher& rss() noexcept { return rss_; }
  nic_counters counters() const;
  std::vector<drop_record> drop_log() const;
  std::uint64_t trace_frames_total() const noexcept;   // frames x loops (a stream: 0 until its first pass ends)
  void flush_tx() noexcept { tx_pcap_.flush(); }

 private:
  friend class queue_port;
  friend class wire;
  struct wire_dir;
  // A stream's frame held by the fault line (delay, reorder): its own copy, as the stream moves on.
  struct held_frame {
    trace_record rec;
    std::vector<std::byte> bytes;
  };
  struct ingress_item {
    std::uint64_t index;                        // replay index: loop * frames + record
    std::shared_ptr<const held_frame> held{};   // a stream's frame (a loaded trace: null, read by index)
  };
  // A frame on the wire is the sender's pool frame itself, lent until delivery (one copy per frame,
  // into the receiver's pool, as a NIC's DMA reads the sender's buffer): no heap copy per frame.
  struct wire_frame {
    const std::byte* data;
    std::uint32_t len;
    port::frame_id id;        // in the sender's pool; freed there when its last copy is delivered
    std::uint64_t packet_id;
    // Its L4 checksum left to the "device" (tx_csum_offload): good by construction. No default member
    // initializer: deliver_wire's array of 32 items would be initialised on every call (~64 instructions).
    bool csum_partial;
  };
  struct staged {
    std::array<rx_desc, 64> d;
    std::uint32_t n = 0;
  };
  struct alignas(64) q_counters {   // written by the ingest thread (rx) or the queue's consumer (tx)
    std::atomic<std::uint64_t> ipackets{0}, ibytes{0}, imissed{0}, rx_nombuf{0};
    std::atomic<std::uint64_t> opackets{0}, obytes{0};
  };

  std::uint64_t schedule_next(const trace_record& r) noexcept;   // due time of replay index next_index_ (r: its record)
  void receive(std::span<const std::byte> bytes, std::uint32_t wirelen, std::uint64_t packet_id,
               const trace_record* rec, const port::fault_mark* mark, bool tracing) noexcept;
  bool next_trace_time(std::uint64_t& t) const noexcept;
  std::uint64_t wire_next_due() const noexcept;
  // Delivers the wire's frames due by `limit` and before `before` (the next trace / ingress-fault
  // frame), at most `budget`, taking the wire's lock once per burst; returns frames handled.
  std::size_t deliver_wire(std::uint64_t limit, std::uint64_t before, std::size_t budget, bool tracing) noexcept;
  std::size_t run(std::uint64_t limit, std::size_t budget) noexcept;
  // The loop of run(); Stream: the trace is a pcap_stream (decided once per call, not per frame).
  template <bool Stream>
  std::size_t run_frames(std::uint64_t limit, std::size_t budget) noexcept;
  [[gnu::noinline]] std::size_t run_stream(std::uint64_t limit, std::size_t budget) noexcept;
  void advance_stream() noexcept;   // after a stream's frame went in: the next one, rewinding for loops
  const trace_record* record_of(std::uint64_t packet_id) const noexcept;
  void flush_staged() noexcept;
  void flush_queue(std::uint16_t q) noexcept;
  void set_clock(std::uint64_t t) noexcept;
  port::frame_ref take_frame() noexcept;
  void log_drop(const drop_record& d);
  void transmit(std::uint16_t q, std::span<port::frame_ref> frames) noexcept;

  sim_nic_config cfg_;
  port::frame_pool pool_;
  rss_hasher rss_;
  std::vector<std::unique_ptr<queue_port>> queues_;
  std::unique_ptr<q_counters[]> qc_;

  // Ingest-thread state (P).
  const pcap_trace* trace_ = nullptr;
  pcap_stream* stream_ = nullptr;     // or this (one of the two)
  std::uint64_t base_ts_ = 0;         // the trace's first timestamp
  std::uint64_t stream_last_ts_ = 0;  // a stream: the latest timestamp taken so far (loop period)
  std::uint64_t next_index_ = 0;      // next replay index to schedule
  std::uint64_t next_rec_ = 0;        // = next_index_ % records, kept without a division per frame
  std::uint64_t next_loop_ = 0;       // = next_index_ / records
  std::uint64_t total_ = 0;           // records x loops (a stream: never until its first pass ends)
  std::uint64_t loop_period_ = 0;     // trace duration + one mean gap
  std::uint64_t next_time_ = 0;       // its due time (valid when next_index_ < total)
  std::uint64_t bits_so_far_ = 0;     // mbps pacing
  bool faults_flushed_ = false;
  std::unique_ptr<port::fault_line<ingress_item>> rx_faults_;
  std::vector<staged> staged_;
  std::optional<port::frame_pool::cache> ingest_cache_;   // the ingest thread's lane cache
  std::uint64_t wire_ids_ = 0;
  // rx_meta flags for the frame receive() takes now: rx_l4_csum_good while deliver_wire hands it a
  // peer's frame with a partial checksum, else 0. A member, not a parameter: the replay path's receive()
  // keeps its six register arguments (a seventh on the stack cost ~5 instructions a frame, callgrind_rx).
  std::uint16_t wire_flags_ = 0;
  std::atomic<std::uint64_t> clock_{0};   // (P) R1 release in set_clock: pairs with A1 in now()
  std::atomic<std::uint64_t> rx_runt_{0}, rx_oversize_{0}, rx_snap_{0}, trace_frames_{0}, wire_rx_{0};
  mutable std::mutex fault_mu_;           // guards the fault counters' copy read by counters()
  port::fault_counters fault_copy_;

  mutable std::mutex log_mu_;
  std::vector<drop_record> drops_;

  // TX.
  port::pcap_writer tx_pcap_;
  wire_dir* tx_wire_ = nullptr;   // set by wire; frames this NIC sends to its peer
  wire_dir* rx_wire_ = nullptr;   // frames the peer sends to this NIC
  std::atomic<std::uint64_t> wire_tx_{0};
};

// A wire between two sim_nics: each direction with its own latency, bandwidth and faults. A frame
// committed on one NIC leaves at the sender's clock, is serialised at the link's rate behind the
// frames before it, travels for latency (+ faults' delay and jitter), and arrives on the peer NIC's
// ingress (RSS, pool, rings) when the peer's clock reaches that time. Attach before replay starts;
// the wire must outlive neither NIC (its destructor detaches both).
class wire {
 public:
  wire(sim_nic& a, sim_nic& b, link_config a_to_b, link_config b_to_a);
  wire(const wire&) = delete;
  wire& operator=(const wire&) = delete;
  ~wire();
  port::fault_counters counters_a_to_b() const;
  port::fault_counters counters_b_to_a() const;

 private:
  sim_nic& a_;
  sim_nic& b_;
  std::unique_ptr<sim_nic::wire_dir> ab_, ba_;
};

}  // namespace ringlab::sim
