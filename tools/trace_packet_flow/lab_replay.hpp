#pragma once
// The lab path: replays a pcap through sim_nic (and, when the stack is built, one stack::interface
// per queue with UDP sockets read by a direct reader) with tracing on, and returns the trace events.
// Without sim_nic in the build, it says so; an events file (route.hpp's format) works either way.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"
#include "trace/trace.hpp"

namespace ringlab::trace_flow {

struct lab_replay_options {
  std::uint16_t queues = 1;
  std::string ring = "spsc";
  std::uint32_t ring_size = 1024;
  std::vector<std::uint16_t> listen_ports;   // stack sockets; empty: every UDP destination port in the file
  bool listen_none = false;
  // TCP listeners (stack::tcp_listener on each port): connections are accepted, read to the end and
  // closed when the peer's FIN has arrived and every byte was read, as a simple server does.
  std::vector<std::uint16_t> tcp_listen_ports;
  std::string addr;                          // stack address; empty: the first UDP frame's destination
  std::string mac;                           // stack MAC; empty: the first UDP frame's Ethernet destination
  std::uint64_t seed = 1;
};

// A streaming caller's view of the traced run (trace replay's route stream): without `events`, the
// run keeps every event and returns them (result.events), as `trace compare` and the tests use it.
struct lab_replay_hooks {
  // Once the traced run's stack is set up, before its first round: what runs (result.notes so far).
  std::function<void(const std::string& notes)> started;
  // The traced run's events after each round of the event loop, handed over and not kept; returns true
  // to end the run after this round (trace replay's --packets N has its routes: the file is read no
  // further). Its own CPU time is not counted in the traced run's cost.
  std::function<bool(std::span<const trace::event>)> events;
  // With `events` able to stop the run: the traced run goes first and the untraced one replays the
  // same frames after it (it cannot know before where the traced one will stop). Else, as always,
  // untraced first, then traced.
  bool may_stop = false;
  // Each frame the stack hands its NIC for transmit, with its bytes as sent (a tap on each queue's TX;
  // checksums finished in software, as under pcap_tap). Set: the stack's own frames can be selected.
  std::function<void(std::uint64_t packet_id, std::span<const std::byte> bytes)> tx_frame;
};

struct lab_replay_result {
  std::vector<lab_event> events;
  std::string notes;                         // what ran ("sim_nic 1 queue spsc + stack 10.0.0.2 ports 9000")
  // Real time the replay loop took (tracing on), and frames replayed: the lab path's hop times are
  // on sim_nic's virtual clock (arrival times, not CPU cost), so this is its measured cost.
  std::uint64_t wall_ns = 0;
  std::uint64_t wall_ns_untraced = 0;        // the same replay once more with tracing off
  std::uint64_t cpu_ns = 0, cpu_ns_untraced = 0;   // the same two as this thread's CPU time (load-proof)
  std::uint64_t frames = 0;                  // frames the traced run read from the file (all of it unless stopped)
  bool stopped = false;                      // hooks.events ended the run before the file did
};

// Throws input_error (unreadable pcap, bad option).
lab_replay_result run_lab_replay(const std::string& pcap, const lab_replay_options& o,
                                 const lab_replay_hooks& hooks = {});

}  // namespace ringlab::trace_flow
