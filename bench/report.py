#!/usr/bin/env python3
"""ringlab's benchmark report (`./lab bench`): runs every benchmark program of a release build with
interleaved repetitions and the callgrind instruction counts of the bypass receive path, then writes
one table: every row's median and min-max over its repetitions and its ratio to a baseline measured
in the same run, misses as rows.

usage:
  report.py run BUILD_DIR [--quick] [--out DIR] [--readme [README.md]] [--note TEXT] [--only NAME,...]
  report.py render DIR [--readme [README.md]] [--note TEXT]

run     runs the programs listed in BUILD_DIR/bench/benches.txt (each with --benchmark_repetitions=5, rings_bench 7
        --benchmark_enable_random_interleaving=true: the repetitions of its benchmarks in random
        order), callgrind_rx.sh in its four modes and tcp/callgrind_tcp.sh in its three (five
        repetitions each, interleaved), then renders.
        --quick: shorter repetitions and the target rows only (the same table, noisier).
        --only: these programs (and 'callgrind', 'callgrind_tcp', 'callgrind_tcp_app', 'callgrind_tcp_lanes', 'soak') only. The fault soak grid
        (tests/netsim/soak, from the default build: the full 3072-cell grid, the short one with --quick) is
        summed in its own section.
render  writes the report again from DIR's raw results (after editing this script, or to add --note).
Output in DIR (default: bench-results/ beside this checkout's README): report.md, report.json (every
sample), one SVG chart per group, raw/ (each program's Google Benchmark JSON and console log).
--readme [FILE] (default: the root README.md): replaces the part of FILE between the lines '<!-- bench-report:begin -->' and
'<!-- bench-report:end -->' with the report's header and table.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REPS = 5                      # repetitions per row, full and quick alike (the minimum)
BEGIN, END = "<!-- bench-report:begin -->", "<!-- bench-report:end -->"
LOWER, HIGHER = "lower", "higher"


# ---------------------------------------------------------------- what each program runs and shows
def first_counter(*names):
    """A metric: the first of these counters a run reports."""
    def get(b):
        for n in names:
            if isinstance(b.get(n), (int, float)):
                return float(b[n])
        return None
    get.names = names
    return get


def ns_per_item(b):
    v = b.get("items_per_second")
    return 1e9 / v if v else None


RING_TARGETS = [  # (design, baseline, burst, at least this many times the baseline's items/s)
    ("spsc", "boost-spsc", 1, 1.5), ("spsc", "rte-sp-sc", 32, 1.2), ("mpmc-mp-mc", "rte-mp-mc", 32, 1.0),
    ("batch", "boost-spsc", 1, 1.5), ("batch", "rte-sp-sc", 32, 1.2),
    ("batch-idle", "boost-spsc", 1, 1.5), ("batch-idle", "rte-sp-sc", 32, 1.2)]


def ring_rows(quick):
    rows = []
    for esize in ("8B", "64B"):
        for design, base, burst, want in RING_TARGETS:
            for d in (base, design):
                name = f"cross/{d}/{esize}/burst:{burst}"
                if name not in [r[0] for r in rows]:
                    rows.append((name, f"cross/{base}/{esize}/burst:{burst}" if d == design else None,
                                 (want, f">= {want}x {base}") if d == design else None))
    return rows


GROUPS = [
    {"key": "bypass", "program": "bench_bypass_udp",
     "title": "Bypass vs kernel: the same app (mcast receiver, fresh sequence numbers), 64 B datagrams",
     "measure": ("receiving thread CPU ns per datagram", first_counter("rx_cpu_ns_per_pkt"), LOWER, "ns"),
     "second": ("wall datagrams/s", first_counter("items_per_second"), HIGHER, "/s"),
     "baseline": lambda row: "kernel_app/epoll", "baseline_text": "kernel_app/epoll",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "callgrind", "program": "callgrind",
     "title": "Bypass receive path, instructions per datagram (callgrind): sim_nic ingest to handler",
     "measure": ("instructions/datagram, ingest to handler", None, LOWER, "Ir"),
     "second": ("NIC share (sim_nic copy + checksum offload) + host share", None, LOWER, ""),
     "baseline_text": "per-datagram, sw checksums"},
    {"key": "kernel_udp", "program": "bench_kernel_udp",
     "title": "Kernel UDP receive over loopback, bare async_receive loop (Asio), epoll vs io_uring",
     "measure": ("receiving thread CPU ns per datagram", first_counter("rx_cpu_ns_per_pkt"), LOWER, "ns"),
     "second": ("wall datagrams/s", first_counter("items_per_second"), HIGHER, "/s"),
     "baseline": lambda row: re.sub(r"^kernel_udp_rx/\w+/", "kernel_udp_rx/epoll/", row),
     "baseline_text": "the epoll row of each size",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "rings", "program": "rings_bench",
     "title": "Rings, producer on CPU 1 -> consumer on CPU 0 (the target rows)",
     "measure": ("items/s", first_counter("items_per_second"), HIGHER, "/s"),
     "second": ("ns per item", ns_per_item, LOWER, "ns"),
     "rows": ring_rows, "baseline_text": "the target's baseline ring, same element size and burst",
     # The cross-core baselines move up to 1.7x between runs on these VMs (rte-sp-sc 64 B burst 32: 41 ->
     # 70 M/s), so the target rows also show the ratio of each interleaved pair (design's i-th repetition
     # over the baseline's i-th), and take 7 repetitions instead of 5 (about +26 s on a 66 s program).
     "reps": 7, "paired": True, "extra_fn": lambda row, runs: ring_extra(row, runs),
     "full": ["--benchmark_min_time=0.2", r"--benchmark_filter=^(floor/|cross/.*/burst:(1|32)(/|$))"],
     "quick": ["--benchmark_min_time=0.05",
               r"--benchmark_filter=^cross/(spsc|batch|batch-idle|boost-spsc|rte-sp-sc|mpmc-mp-mc|rte-mp-mc)/.*/burst:(1|32)(/|$)"]},
    {"key": "sim_nic", "program": "bench_sim_nic",
     "title": "sim_nic receive per core (ingest + one queue drained) vs DPDK net_pcap from the same pcap",
     "measure": ("ns per frame", ns_per_item, LOWER, "ns"),
     "second": ("frames/s", first_counter("items_per_second"), HIGHER, "/s"),
     "baseline": lambda row: "BM_dpdk_net_pcap_rx", "baseline_text": "BM_dpdk_net_pcap_rx",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "pcap_replay", "program": "bench_pcap_replay",
     "title": "Replay from a pcap file on disk (10^6 66-byte frames, page cache warm), per core: sim_nic over a "
              "pcap_stream vs DPDK net_pcap reading the same file",
     "measure": ("ns per frame", ns_per_item, LOWER, "ns"),
     "second": ("frames/s", first_counter("items_per_second"), HIGHER, "/s"),
     "baseline": lambda row: "BM_pcap_replay_dpdk_net_pcap", "baseline_text": "BM_pcap_replay_dpdk_net_pcap",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "timers", "program": "bench_timers",
     "title": "Timers of one lane, 100 000 armed: cost per arm, cancel and fire (stack::timer_queue vs std containers)",
     "measure": ("ns per operation", ns_per_item, LOWER, "ns"),
     "second": ("operations/s", first_counter("items_per_second"), HIGHER, "/s"),
     "baseline": lambda row: re.sub(r"^(\w+)/\w+/", r"\1/std_multimap/", row),
     "baseline_text": "std::multimap, same operation",
     "full": ["--benchmark_min_time=0.2"], "quick": ["--benchmark_min_time=0.02"]},
    {"key": "lanes", "program": "bench_lanes",
     "title": "Every core over sim_nic: the whole receive path (ring -> stack -> Asio handler), 2 lanes on 2 CPUs vs 1 lane, "
              "the same offered flows, rings preloaded",
     "measure": ("packets/s", first_counter("items_per_second"), HIGHER, "/s"),
     "second": ("pool mutex acquisitions per packet while the lanes run", first_counter("lane_pool_locks_per_pkt"), LOWER, ""),
     "rows": lambda quick: [("lanes/1", None, None), ("lanes/2", "lanes/1", (1.8, ">= 1.8x 1 lane")),
                            ("lanes/1/no_cache", "lanes/1", None), ("lanes/2/no_cache", "lanes/1/no_cache", None)],
     "baseline_text": "1 lane (lanes/1; the no-cache 2-lane row: 1 lane without caches)",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "tcp_lanes", "program": "bench_tcp_lanes",
     "title": "TCP on every lane over sim_nic (bypass::tcp_lanes): 64 B request/response, 8 connections, "
              "2 lanes on 2 CPUs vs 1 lane, the same transactions; each lane runs both ends (its own NIC pair)",
     "measure": ("transactions/s", first_counter("items_per_second"), HIGHER, "/s"),
     "second": ("lane CPU ns per segment (server lanes' segments in + out)", first_counter("lane_cpu_ns_per_seg"), LOWER, "ns"),
     "rows": lambda quick: [("tcp_lanes/rr/1", None, None), ("tcp_lanes/rr/2", "tcp_lanes/rr/1", (1.8, ">= 1.8x 1 lane"))],
     "baseline_text": "1 lane (tcp_lanes/rr/1)",
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "veth", "program": "bench_veth_rx",
     "title": "veth pair, 64 B UDP, one offered load (sender on CPU 1), each receiver",
     "measure": ("receiver CPU ns per packet", first_counter("cpu_ns_per_pkt", "rx_cpu_ns_per_pkt"), LOWER, "ns"),
     "second": ("received packets/s", first_counter("rx_pps", "items_per_second"), HIGHER, "/s"),
     "extra": first_counter("offered_pps"),
     # The 2-lane vs 1-lane pair (two veth queues, 16 flows) is judged against its 1-lane row.
     "baseline": lambda row: "afxdp_2q_lanes:1" if row.startswith("afxdp_2q_lanes:") else "kernel_recvmmsg",
     "baseline_text": "kernel_recvmmsg; afxdp_2q_lanes:2 against afxdp_2q_lanes:1",
     "full": [], "quick": [], "quick_env": {"RINGLAB_VETH_RX_PACKETS": "50000"}},
    {"key": "tcp", "program": "bench_tcp",
     "title": "TCP engine: two tcp::connections over an in-memory wire on one core (no parse, no checksum), "
              "per segment, per connection and in bulk; Linux TCP over loopback beside the bulk rows",
     "measure": ("ns per segment (conn: per connection; bulk: per 1448 B of payload)", ns_per_item, LOWER, "ns"),
     "second": ("segments/s, connections/s; bulk: bytes/s", first_counter("bytes_per_second", "items_per_second"),
                HIGHER, "/s"),
     "baseline": lambda row: "bulk/kernel_loopback/mss:1460" if row.startswith("bulk/") else None,
     "is_baseline": lambda row: row == "bulk/kernel_loopback/mss:1460",
     "baseline_text": "bulk rows: Linux TCP over loopback, TCP_MAXSEG 1460 (our MSS; loopback's GSO still "
                      "moves 64 KiB per skb), one thread doing both ends",
     "extra_fn": lambda row, runs: tcp_extra(row, runs),
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "tcp_callgrind", "program": "callgrind_tcp",
     "title": "TCP engine, instructions per segment (callgrind): established receive (on_segment + its ACKs) "
              "and send (send() to the sink), and per connection (setup + teardown)",
     "measure": ("instructions per segment (conn: per connection)", None, LOWER, "Ir"),
     "second": ("the in-memory wire's copy (sink) + the engine's own", None, LOWER, ""),
     "baseline_text": None},
    {"key": "tcp_lanes_callgrind", "program": "callgrind_tcp_lanes",
     "title": "TCP lanes, instructions per server segment (callgrind): bench_tcp_lanes' work (8 connections, 64 B "
              "request/response, both ends) on one thread with a virtual clock, 1 lane vs 2",
     "measure": ("instructions per segment (server lanes' in + out)", None, LOWER, "Ir"),
     "second": ("instructions per poll round (every lane's ingest + poll + handlers)", None, LOWER, ""),
     "baseline_text": None},
    {"key": "tcp_app", "program": "bench_tcp_app",
     "title": "TCP apps vs the kernel: the same Asio app (one template over the socket type), both ends busy-polled on one "
              "thread; rr: 64 B each way on one kept-alive connection; short: connect, 64 B, 64 B, close; bulk: one connection",
     "measure": ("CPU ns per unit, both ends (rr: per transaction; short: per connection; bulk: per MB)",
                 first_counter("cpu_ns_per_op"), LOWER, "ns"),
     "second": ("wall transactions/s, connections/s, MB/s", first_counter("wall_ops_per_s"), HIGHER, "/s"),
     "rows": lambda quick: tcp_app_rows(),
     "baseline_text": "the kernel's row of the same mode and pair: bypass_sim (sim's checksum offload) and bypass_sim_sw "
                      "(checksums in software) vs kernel_loopback, bypass_afxdp vs kernel_veth",
     "extra_fn": lambda row, runs: tcp_app_extra(row, runs),
     "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]},
    {"key": "tcp_app_callgrind", "program": "callgrind_tcp_app",
     "title": "TCP app over sim_nic (bench_tcp_app's bypass_sim rows), instructions per transaction / connection / MB (callgrind), "
              "both ends on one thread",
     "measure": ("instructions per unit, both ends", None, LOWER, "Ir"),
     "second": ("sim_nic's share (the wire's copies, ingest) + host (app, Asio, bypass_service, stack)", None, LOWER, ""),
     "baseline_text": None},
]
GENERIC = {"measure": ("items/s", first_counter("items_per_second"), HIGHER, "/s"),
           "second": ("ns per item", ns_per_item, LOWER, "ns"), "baseline": lambda row: None,
           "full": ["--benchmark_min_time=0.5"], "quick": ["--benchmark_min_time=0.05"]}

TCP_APP_CALLGRIND_MODES = [  # (row, bench_tcp_app --callgrind mode)
    ("rr: a 64 B transaction on a kept-alive connection", "rr"), ("short: a connection (connect, 64 B, 64 B, close)", "short"),
    ("bulk: 1 MB (10^6 bytes) received, 64 KiB writes", "bulk"),
    ("bulk_sw: the same without sim's checksum offload (bypass_sim_sw)", "bulk_sw")]
TCP_APP_CALLGRIND_N = {"bulk": (4, 20), "bulk_sw": (4, 20)}  # MB (quick, full): the other modes' units are transactions / connections
TCP_LANES_CALLGRIND_MODES = [  # (row, callgrind_tcp_lanes LANES)
    ("1 lane, 8 connections", "1"), ("2 lanes, 4 connections each", "2")]
TCP_CALLGRIND_MODES = [  # (row, bench_tcp --callgrind mode)
    ("rx: on_segment of a 1448 B segment + its ACKs", "rx"), ("tx: send() to the sink, per segment", "tx"),
    ("conn: setup + teardown, per connection", "conn")]


def ring_extra(row, runs):
    """The cross-core rows' rate while both threads ran (rings_bench's window_Mps: the median timing window of
    each repetition, medians over them): the figure that does not count the scheduler's stops."""
    v = stats([first_counter("window_Mps")(b) for b in runs])
    text = f"; while both ran {v['median']:.0f} M/s ({v['min']:.0f}-{v['max']:.0f})" if v else ""
    # Where the hypervisor had the two vCPUs (rtt_ns, timed before each repetition; issue 15.8): near
    # (one host core complex) and far differ 3-4x at 64 B, so a median of items/s says first how the
    # repetitions fell between the two. ratio_table.py's "Targets by placement" compares like with like.
    near = [b["items_per_second"] for b in runs if first_counter("rtt_ns")(b) is not None and b["rtt_ns"] < 250]
    far = [b["items_per_second"] for b in runs if first_counter("rtt_ns")(b) is not None and b["rtt_ns"] >= 250]
    for label, xs in (("near", near), ("far", far)):
        if xs:
            text += f"; {label} (rtt {'<' if label == 'near' else '>='} 250 ns) {len(xs)}x {statistics.median(xs) / 1e6:.0f} M/s"
    return text


def tcp_extra(row, runs):
    """The TCP rows' counters beside the second column (medians over the repetitions)."""
    def med(name):
        v = stats([first_counter(name)(b) for b in runs])
        return v["median"] if v else None
    parts = []
    if row.startswith(("rx/", "tx/")):
        for name, text in (("read_ns_per_seg", "app read %.0f ns/seg"), ("ack_ns_per_seg", "sender's ACK processing %.0f ns/seg"),
                           ("rx_ns_per_seg", "receiver %.0f ns/seg"), ("acks_per_seg", "%.2f ACKs/seg"),
                           ("allocs_per_seg", "%.3f heap allocations/seg")):
            v = med(name)
            if v is not None:
                parts.append(text % v)
    elif row.startswith("conn/"):
        size, heap, segs = med("sizeof_connection"), med("heap_bytes_idle"), med("segments_per_conn")
        if size is not None:
            parts.append(f"memory per idle ESTABLISHED connection: sizeof {size:,.0f} B + heap {heap:,.0f} B")
        if segs is not None:
            parts.append(f"{segs:.0f} segments/conn, {med('allocs_per_conn'):.1f} heap allocations/conn")
    elif row == "bulk/engine" or row == "bulk/stack":
        v = med("peak_buffer_bytes")
        if v is not None:
            parts.append(f"buffers at their peak {v / 1024:,.0f} KiB (both ends)")
    elif row.startswith("bulk/kernel"):
        v = med("kernel_mss")
        if v:
            parts.append(f"kernel MSS {v:.0f}")
    return ("; " + "; ".join(parts)) if parts else ""


# Issue 13's goals for the same app over bypass vs kernel TCP, as ratios of CPU per unit (both ends):
# at most `want` times the kernel's (CPU <= 0.5x is the same as transactions per core >= 2x).
TCP_APP_GOALS = {"rr": (0.5, "CPU/transaction <= 0.5x kernel (tps per core >= 2x)"),
                 "short": (0.5, "CPU/connection <= 0.5x kernel"),
                 "bulk": (1.0, "CPU/MB <= 1x kernel (MB/s per core >= 1x)")}
TCP_APP_UNITS = {"rr": "transactions/s", "short": "connections/s", "bulk": "MB/s"}


def tcp_app_rows():
    rows = []
    for mode, (want, text) in TCP_APP_GOALS.items():
        # bypass_sim: sim's TX checksum offload (as loopback's); bypass_sim_sw: every checksum in software.
        for kernel, ours in (("kernel_loopback", ("bypass_sim", "bypass_sim_sw")), ("kernel_veth", ("bypass_afxdp",))):
            rows.append((f"{mode}/{kernel}", None, None))
            for o in ours:
                rows.append((f"{mode}/{o}", f"{mode}/{kernel}", (want, text, "<=")))
    return rows


def tcp_app_extra(row, runs):
    """Per core (units per CPU-second) and, over sim_nic, frames on the wire per unit."""
    mode = row.split("/")[0]
    parts = []
    pc = stats([first_counter("per_core_ops")(b) for b in runs])
    if pc:
        parts.append(f"per core {fmt(pc['median'])} {TCP_APP_UNITS.get(mode, '/s')}")
    fr = stats([first_counter("frames_per_op")(b) for b in runs])
    if fr:
        parts.append(f"{fr['median']:.3g} frames/{'MB' if mode == 'bulk' else 'transaction'}")
    tf = stats([first_counter("train_frames_per_op")(b) for b in runs])
    if fr and tf and tf["median"] > 0:   # built from a TCP segment train's one header (issue 13.6)
        parts.append(f"{tf['median']:.3g} of them in segment trains")
    return ("; " + "; ".join(parts)) if parts else ""


CALLGRIND_MODES = [  # (row, csum, recv); the first is the baseline
    ("per-datagram, sw checksums", "sw", "single"), ("per-datagram, offload", "offload", "single"),
    ("batch of 32, sw checksums", "sw", "batch"), ("batch of 32, offload", "offload", "batch")]
HOST_TARGET = 300   # instructions/packet, rx_burst to handler (the bypass issue's goal)


# ---------------------------------------------------------------- running
def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def build_info(build):
    cache = {}
    try:
        for line in open(os.path.join(build, "CMakeCache.txt")):
            m = re.match(r"^([A-Za-z_]+):\w+=(.*)$", line.strip())
            if m:
                cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    cxx = cache.get("CMAKE_CXX_COMPILER", "c++")
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        version = cxx
    bt = cache.get("CMAKE_BUILD_TYPE", "?")
    flags = " ".join(x for x in (cache.get("CMAKE_CXX_FLAGS", ""), cache.get(f"CMAKE_CXX_FLAGS_{bt.upper()}", "")) if x)
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short=12", "HEAD") or "?"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"dir": os.path.relpath(os.path.abspath(build), ROOT), "build_type": bt, "flags": flags,
            "compiler": version, "commit": commit + ("+local changes" if dirty else "")}


def run_program(path, args, env_extra, raw, reps=REPS):
    name = os.path.basename(path)
    out = os.path.join(raw, name + ".json")
    cmd = [path, f"--benchmark_repetitions={reps}", "--benchmark_enable_random_interleaving=true",
           *args, f"--benchmark_out={out}", "--benchmark_out_format=json"]
    env = dict(os.environ, **env_extra)
    log(" ".join(f"{k}={v}" for k, v in env_extra.items()) + (" " if env_extra else "") + " ".join(cmd[:-2]))
    t0 = time.monotonic()
    with open(os.path.join(raw, name + ".log"), "w") as console:
        rc = subprocess.run(cmd, env=env, stdout=console, stderr=subprocess.STDOUT).returncode
    status = {"program": name, "command": " ".join(cmd[:-2]), "env": env_extra, "exit": rc,
              "seconds": round(time.monotonic() - t0, 1)}
    if rc != 0:
        log(f"{name} exited with status {rc} (its log: {os.path.join(raw, name + '.log')})")
    return status


def run_callgrind(build, quick, raw):
    # valgrind 3.19 cannot decode AVX-512, which -march=native emits here: the counts come from the
    # default preset's build (RelWithDebInfo, -O2, no -march), built by `./lab bench` for this.
    prog = os.path.join(build, "bench", "bypass_udp", "callgrind_rx")
    script = os.path.join(HERE, "bypass_udp", "callgrind_rx.sh")
    measured, warmup = (1000, 3000) if quick else (10000, 20000)
    status = {"program": "callgrind", "command": f"{script} {prog} {measured} {warmup} 0 CSUM RECV",
              "env": {}, "exit": 0}
    if not os.access(prog, os.X_OK) or not shutil.which("valgrind"):
        status.update(exit=77, why="callgrind_rx not built or valgrind missing")
        return status, []
    log(f"callgrind_rx.sh: {len(CALLGRIND_MODES)} modes x {REPS}, {measured} datagrams each after {warmup}")
    runs = [(row, rep, ["sh", script, prog, str(measured), str(warmup), "0", csum, recv])
            for rep, (row, csum, recv) in interleaved(CALLGRIND_MODES)]
    return callgrind_loop(status, runs, r"^(nic |host |)instructions/packet: ([0-9.]+)$", ("nic", "host"), raw,
                          "callgrind")


def interleaved(modes):
    """(rep, mode) for REPS repetitions, the modes shuffled within each."""
    return [(rep, m) for rep in range(REPS) for m in random.sample(modes, len(modes))]


def callgrind_loop(status, runs, pattern, keys, raw, name):
    """Runs each (row, rep, argv); a sample is the counts `pattern` finds in its output (the total, then
    one per key: the pattern's first group is '' or 'KEY '), else the error. Writes raw/NAME.json."""
    t0 = time.monotonic()
    samples = []
    for row, rep, argv in runs:
        r = subprocess.run(argv, capture_output=True, text=True)
        vals = dict(re.findall(pattern, r.stdout, re.M))
        if r.returncode != 0 or len(vals) != 1 + len(keys):
            samples.append({"row": row, "rep": rep, "error": (r.stderr or r.stdout).strip()[-300:] or f"exit {r.returncode}"})
            status["exit"] = 1
            continue
        samples.append({"row": row, "rep": rep, "total": float(vals[""]), **{k: float(vals[k + " "]) for k in keys}})
    status["seconds"] = round(time.monotonic() - t0, 1)
    json.dump(samples, open(os.path.join(raw, name + ".json"), "w"), indent=1)
    return status, samples


def run_callgrind_script(build, raw, name, program, script, modes, n, pattern, keys, n_of=None):
    """PROGRAM --callgrind MODE N under SCRIPT (paths relative to the build's and this folder), every
    mode REPS times, interleaved (n_of: another N for some modes); the samples go to raw/NAME.json."""
    prog = os.path.join(build, "bench", program)
    script = os.path.join(HERE, script)
    status = {"program": name, "command": f"{script} {prog} MODE {n}", "env": {}, "exit": 0}
    if not os.access(prog, os.X_OK) or not shutil.which("valgrind"):
        status.update(exit=77, why=f"{os.path.basename(prog)} not built in the callgrind build, or valgrind missing")
        return status, []
    log(f"{os.path.basename(script)}: {len(modes)} modes x {REPS}, {n} units each")
    runs = [(row, rep, ["sh", script, prog, mode, str((n_of or {}).get(mode, n)), "0"]) for rep, (row, mode) in interleaved(modes)]
    return callgrind_loop(status, runs, pattern, keys, raw, name)


def run_callgrind_tcp(build, quick, raw):
    """bench_tcp --callgrind under callgrind_tcp.sh: segments (connections) of the TCP engine."""
    return run_callgrind_script(build, raw, "callgrind_tcp", "tcp/bench_tcp", "tcp/callgrind_tcp.sh", TCP_CALLGRIND_MODES,
                                640 if quick else 3200, r"^(sink |engine |)instructions/(?:segment|connection): ([0-9.]+)$",
                                ("sink", "engine"))


def run_callgrind_tcp_app(build, quick, raw):
    """bench_tcp_app --callgrind under callgrind_tcp_app.sh: transactions (connections, MB) over sim_nic."""
    return run_callgrind_script(build, raw, "callgrind_tcp_app", "tcp_app/bench_tcp_app", "tcp_app/callgrind_tcp_app.sh",
                                TCP_APP_CALLGRIND_MODES, 200 if quick else 1000,
                                r"^(nic |host |)instructions/(?:transaction|connection|MB): ([0-9.]+)$", ("nic", "host"),
                                {m: n[0 if quick else 1] for m, n in TCP_APP_CALLGRIND_N.items()})


def run_callgrind_tcp_lanes(build, quick, raw):
    """callgrind_tcp_lanes under callgrind_tcp_lanes.sh: server segments, 1 lane vs 2 (bench/README.md, "TCP lanes")."""
    return run_callgrind_script(build, raw, "callgrind_tcp_lanes", "tcp_lanes/callgrind_tcp_lanes",
                                "tcp_lanes/callgrind_tcp_lanes.sh", TCP_LANES_CALLGRIND_MODES, 2000 if quick else 8000,
                                r"^(round |)instructions/(?:segment|round): ([0-9.]+)$", ("round",))


# The fault soak grid (tests/netsim/soak): the full grid (3072 cells, 15.4 M datagrams) in a full run,
# the short grid (18 cells) with --quick. Its per-cell table goes to raw/soak.log; the report sums it
# per fault rate (soak_table). Correctness, not speed: the test's own checks decide pass or fail.
def run_soak(build, quick, raw):
    prog = os.path.join(build, "tests", "netsim", "soak", "test_netsim_soak")
    filt = "grid/soak_short.*" if quick else "grid/soak_full.*"
    env = {} if quick else {"RINGLAB_SOAK_FULL": "1"}
    status = {"program": "soak", "command": f"{prog} --gtest_filter={filt}", "env": env, "exit": 0}
    if not os.access(prog, os.X_OK):
        status.update(exit=77, why="test_netsim_soak not built (build/default)")
        return status
    log(f"soak grid: {filt}")
    t0 = time.monotonic()
    r = subprocess.run([prog, f"--gtest_filter={filt}"], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    open(os.path.join(raw, "soak.log"), "w").write(r.stdout + r.stderr)
    status.update(exit=r.returncode, seconds=round(time.monotonic() - t0, 1))
    return status


SOAK_COLS = ["sent", "delivered", "f.drop", "f.dup", "corrupt", "c.intact", "dups", "reord"]   # test_netsim_soak's columns, in order


def soak_table(raw):
    """The soak grid summed per fault and rate, with the grid's pass count, as markdown lines."""
    path = os.path.join(raw, "soak.log")
    if not os.path.exists(path):
        return []
    text = open(path).read()
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(seed\S+)\s+" + r"\s+".join([r"(\d+)"] * len(SOAK_COLS)) + r"\s+(.*)$", line)
        if m:
            rows.append((m.group(1), [int(m.group(i)) for i in range(2, 2 + len(SOAK_COLS))]))
    passed = re.search(r"\[  PASSED  \] (\d+) test", text)
    failed = re.findall(r"^\[  FAILED  \] (grid/\S+)", text, re.M)
    if not rows:
        return ["", "## Fault soak grid", "", "No cell table in raw/soak.log (the run failed before it printed)."]

    def rate(name, fault):
        m = re.search(fault + r"_0_(\d+)(?:_(\d+))?", name)
        if not m:
            return "0"
        return "0." + m.group(1) + (":" + m.group(2) if m.group(2) else "")

    out = ["", "## Fault soak grid (tests/netsim/soak: the bypass UDP path over sim_nic's seeded faults)", "",
           f"{len(rows)} cells, {passed.group(1) if passed else 0} passed, {len(set(failed))} failed"
           + (": " + ", ".join(sorted(set(failed))[:5]) if failed else "")
           + ". Every cell checks that exactly the surviving datagrams arrive, copy by copy, that the frame pool "
           "balances to zero, and that the NIC's and the stack's counters add up, column by column: delivered = "
           "sent - f.drop + f.dup - (corrupt - c.intact) (the columns: tests/netsim/soak/README.md). Sums per "
           "fault rate over the other faults and the seeds:", "",
           "| fault | rate | cells | " + " | ".join(SOAK_COLS) + " | delivered / sent |",
           "|---|---|---:|" + "---:|" * len(SOAK_COLS) + "---:|"]
    for fault in ("drop", "reorder", "dup", "corrupt"):
        by = {}
        for name, vals in rows:
            acc = by.setdefault(rate(name, fault), [0, [0] * len(SOAK_COLS)])
            acc[0] += 1
            acc[1] = [a + b for a, b in zip(acc[1], vals)]
        for r_, (n, sums) in sorted(by.items()):
            out.append(f"| {fault} | {r_} | {n} | " + " | ".join(f"{v:,}" for v in sums)
                       + (f" | {sums[1] / sums[0]:.4f} |" if sums[0] else " | - |"))
    tot = [sum(v[i] for _, v in rows) for i in range(len(SOAK_COLS))]
    out.append("| all | | " + str(len(rows)) + " | " + " | ".join(f"{v:,}" for v in tot)
               + (f" | {tot[1] / tot[0]:.4f} |" if tot[0] else " | - |"))
    return out


def cmd_run(a):
    build = a.build
    listing = os.path.join(build, "bench", "benches.txt")
    if not os.path.isfile(listing):
        sys.exit(f"report.py: {listing} not found: configure and build {build} first (cmake --preset release)")
    out = a.out
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    for f in os.listdir(raw):
        os.remove(os.path.join(raw, f))
    only = set(a.only.split(",")) if a.only else None
    meta = {"started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            # ./lab names itself; run directly, the command is this script's
            "command": os.environ.get("RINGLAB_BENCH_COMMAND") or " ".join(["python3 bench/report.py"] + sys.argv[1:]),
            "quick": a.quick, "reps": REPS,
            "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                        "host": platform.node()},
            "load_start": loadavg(), "build": build_info(build), "programs": []}
    t0 = time.monotonic()
    programs = [p for p in open(listing).read().split() if p]
    for path in programs:
        name = os.path.basename(path)
        if only and name not in only:
            continue
        g = next((g for g in GROUPS if g["program"] == name), GENERIC)
        if not os.access(path, os.X_OK):
            log(f"{path} is not built: left out")
            meta["programs"].append({"program": name, "exit": 127, "why": "not built"})
            continue
        env = g.get("quick_env", {}) if a.quick else g.get("full_env", {})
        meta["programs"].append(run_program(path, g["quick" if a.quick else "full"], env, raw, g.get("reps", REPS)))
    if not only or "callgrind" in only:
        status, _ = run_callgrind(a.callgrind_build, a.quick, raw)
        status["build"] = build_info(a.callgrind_build)
        meta["programs"].append(status)
    if not only or "callgrind_tcp" in only:
        status, _ = run_callgrind_tcp(a.callgrind_build, a.quick, raw)
        status["build"] = build_info(a.callgrind_build)
        meta["programs"].append(status)
    if not only or "callgrind_tcp_app" in only:
        status, _ = run_callgrind_tcp_app(a.callgrind_build, a.quick, raw)
        status["build"] = build_info(a.callgrind_build)
        meta["programs"].append(status)
    if not only or "callgrind_tcp_lanes" in only:
        status, _ = run_callgrind_tcp_lanes(a.callgrind_build, a.quick, raw)
        status["build"] = build_info(a.callgrind_build)
        meta["programs"].append(status)
    if not only or "soak" in only:
        meta["programs"].append(run_soak(a.callgrind_build, a.quick, raw))
    meta["load_end"] = loadavg()
    meta["seconds"] = round(time.monotonic() - t0)
    json.dump(meta, open(os.path.join(raw, "run.json"), "w"), indent=1)
    failed = render(out, a.readme, a.note)
    bad = [p["program"] for p in meta["programs"] if p.get("exit") not in (0, 77)]
    if bad:
        log("these failed: " + ", ".join(bad))
    return 1 if bad or failed else 0


# ---------------------------------------------------------------- the report
def row_name(name):
    """A benchmark's row: its name without what Google Benchmark appends (time kind, fixed counts)."""
    return re.sub(r"/(iterations:\d+|repeats:\d+|real_time|manual_time|process_time)(?=/|$)", "", name)


def runs_of(raw, program):
    """{row: [run dict per repetition]} in the order rows first appear, plus the JSON's context."""
    path = os.path.join(raw, program + ".json")
    try:
        doc = json.load(open(path))
    except (OSError, ValueError):
        return None, {}
    rows = {}
    runs = [b for b in doc.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    # In registration order (the runs came in random order: interleaved).
    runs.sort(key=lambda b: (b.get("family_index", 0), b.get("per_family_instance_index", 0)))
    for b in runs:
        rows.setdefault(row_name(b.get("run_name", b["name"])), []).append(b)
    return rows, doc.get("context", {})


def stats(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(x, unit=""):
    """ns: whole nanoseconds from 100 up; /s and plain counts: three digits with k, M, G."""
    if x is None:
        return "-"
    a = abs(x)
    if unit == "ns":
        return (f"{x:,.0f}" if a >= 100 else f"{x:.3g}") + " ns"
    if unit == "Ir":
        return f"{x:,.1f}"
    for f, p in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if a >= f:
            return f"{x / f:.3g}{p}{unit}"
    return f"{x:.3g}" + (f" {unit}" if unit and unit != "/s" else unit)


def fmt_range(s, unit=""):
    return f"{fmt(s['min'], unit)} – {fmt(s['max'], unit)}" if s else "-"


def ratio(a, b):
    return a["median"] / b["median"] if a and b and b["median"] else None


def paired_ratios(r, base):
    """Stats of design_i / baseline_i over the repetitions (i-th of each in run order; both interleaved at
    random among the same run's rows, so a pair saw the same machine more nearly than two medians do)."""
    a, b = r.get("samples") or [], base.get("samples") or []
    return stats([x / y for x, y in zip(a, b) if x is not None and y])


def group_rows(g, quick, raw):
    """One dict per row of a group: its stats (m: headline, s: second column), baseline row, target,
    error (the benchmark's own, or nothing measured), extra text, samples."""
    rows, _ = runs_of(raw, g["program"])
    if rows is None:
        return None
    spec = g["rows"](quick) if "rows" in g else [(r, None, None) for r in rows]
    out = []
    for name, base, target in spec:
        runs = rows.get(name, [])
        errors = [b.get("error_message", "error") for b in runs if b.get("error_occurred")]
        ok = [b for b in runs if not b.get("error_occurred")]
        empty = [b for b in ok if "items_per_second" in b and not b["items_per_second"] > 0]
        if empty:   # a repetition that received nothing measured nothing: the row is not a figure
            errors.append(f"measured nothing (0 items/s) in {len(empty)} of {len(runs)} repetitions")
        m = stats([g["measure"][1](b) for b in ok])
        s = stats([g["second"][1](b) for b in ok])
        extra = ""
        if "extra" in g:   # veth: the drops of the offered load, and the sender's offered rate
            d, o = stats([first_counter("drops")(b) for b in ok]), stats([first_counter("offered")(b) for b in ok])
            if d and o:
                extra = f"; drops {fmt(d['median'])} of {fmt(o['median'])} offered (max {fmt(d['max'])})"
            op = stats([g["extra"](b) for b in ok])
            if op:
                extra += f"; sender offered {fmt(op['median'], '/s')}"
        if base is None and "rows" not in g:
            base = g["baseline"](name)
        if "extra_fn" in g:
            extra += g["extra_fn"](name, ok)
        if not runs:
            errors = ["not run (no such benchmark in this run)"]
        out.append({"row": name, "m": m, "s": s, "base": base if base != name else None, "target": target,
                    "error": "; ".join(sorted(set(errors))) if errors else None, "extra": extra,
                    "samples": [g["measure"][1](b) for b in ok]})
    if g["key"] == "rings" and "floor/cache_line_round_trip" in rows:
        ok = [b for b in rows["floor/cache_line_round_trip"] if not b.get("error_occurred")]
        out.append({"row": "floor: core-to-core cache-line round trip", "m": None,
                    "s": stats([b["real_time"] for b in ok]), "base": None, "target": None, "error": None,
                    "extra": "", "samples": [], "note": "ns per round trip (second column)"})
    return out


def callgrind_rows(raw):
    try:
        samples = json.load(open(os.path.join(raw, "callgrind.json")))
    except (OSError, ValueError):
        return None
    out = []
    for row, csum, recv in CALLGRIND_MODES:
        mine = [s for s in samples if s["row"] == row]
        ok = [s for s in mine if "error" not in s]
        m, nic, host = (stats([s[k] for s in ok]) for k in ("total", "nic", "host"))
        errors = sorted({s["error"] for s in mine if "error" in s})
        target = None
        if host:
            target = (None, f"host <= {HOST_TARGET}: " + ("met" if host["median"] <= HOST_TARGET else "**MISS**"))
        out.append({"row": row, "m": m, "s": None, "nic": nic, "host": host, "base": CALLGRIND_MODES[0][0],
                    "target": target, "error": "; ".join(errors) if errors else None, "extra": "",
                    "samples": [s["total"] for s in ok]})
    out[0]["base"] = None
    return out


def callgrind_tcp_rows(raw, name="callgrind_tcp", modes=TCP_CALLGRIND_MODES, parts=("sink", "engine")):
    try:
        samples = json.load(open(os.path.join(raw, name + ".json")))
    except (OSError, ValueError):
        return None
    out = []
    for row, _ in modes:
        mine = [s for s in samples if s["row"] == row]
        ok = [s for s in mine if "error" not in s]
        m = stats([s["total"] for s in ok])
        errors = sorted({s["error"] for s in mine if "error" in s})
        out.append({"row": row, "m": m, "s": None, **{k: stats([s[k] for s in ok]) for k in parts}, "base": None,
                    "target": None, "error": "; ".join(errors) if errors else None, "extra": "",
                    "samples": [s["total"] for s in ok]})
    return out


def callgrind_table(groups):
    """The four callgrind rows side by side, the NIC's share in its own column."""
    g = next((g for g in groups if g.get("group") == "callgrind" and g.get("rows")), None)
    if not g:
        return []
    exact = all(r.get("m") and r["m"]["min"] == r["m"]["max"] for r in g["rows"])
    out = ["", "Instructions per datagram, sim_nic ingest to handler (callgrind, medians; "
           + ("every repetition gave the same count" if exact else "min–max in the table above")
           + "). A real NIC's copy and checksum offload cost the host CPU nothing; sim_nic "
           "does them on the receiving CPU, so they are counted, in a column of their own.", "",
           "| receive | checksums | total | NIC: sim_nic ingest (copy, offload checks) | host: rx_burst to handler | total vs per-datagram sw | host <= %d |" % HOST_TARGET,
           "|---|---|---:|---:|---:|---:|---|"]
    base = g["rows"][0].get("m")
    for (row, csum, recv), r in zip(CALLGRIND_MODES, g["rows"]):
        if r.get("error") or not r.get("m"):
            out.append(f"| {recv} | {csum} | **error**: {r.get('error')} | | | | |")
            continue
        rat = ratio(r["m"], base)
        out.append(f"| {'per datagram (async_receive_from)' if recv == 'single' else 'batch of 32 (async_receive_batch)'} "
                   f"| {'software' if csum == 'sw' else 'offload'} | {fmt(r['m']['median'], 'Ir')} | "
                   f"{fmt(r['nic']['median'], 'Ir')} | {fmt(r['host']['median'], 'Ir')} | "
                   f"{f'{rat:.3g}×' if rat else '-'} | {'met' if r['host']['median'] <= HOST_TARGET else '**MISS**'} |")
    return out


def target_cell(r, rat, paired=None):
    """A row's verdict. In a paired group a target is met only when the ratio of the medians and the
    median of the paired ratios both reach it (rings/README.md: two medians can come from different
    minutes of a run; a pair is nearer in time), and the cell says which one missed."""
    t = r.get("target")
    if not t:
        return ""
    want, text = t[0], t[1]
    at_most = len(t) > 2 and t[2] == "<="   # (want, text, "<="): met at or below want (CPU per unit)
    if want is None:
        return text
    if rat is None:
        return f"{text}: -"
    ok = (lambda x: x <= want) if at_most else (lambda x: x >= want)
    if paired is None:
        return f"{text}: " + ("met" if ok(rat) else "**MISS**")
    if ok(rat) and ok(paired["median"]):
        return f"{text}: met (medians and paired)"
    missed = [w for w, x in (("medians", rat), ("paired", paired["median"])) if not ok(x)]
    return f"{text}: **MISS** ({' and '.join(missed)})"


def render(out, readme, note):
    raw = os.path.join(out, "raw")
    try:
        meta = json.load(open(os.path.join(raw, "run.json")))
    except (OSError, ValueError) as e:
        sys.exit(f"report.py: no run in {raw} ({e}): run first")
    quick = meta.get("quick", False)
    status = {p["program"]: p for p in meta["programs"]}
    lines, groups_json, failed = [], [], False
    for g in GROUPS + [dict(GENERIC, key=p, program=p, title=p) for p in status
                       if p not in [g["program"] for g in GROUPS] and p != "soak"]:   # soak: its own section
        st = status.get(g["program"])
        if st is None:
            continue
        rows = callgrind_rows(raw) if g["program"] == "callgrind" else \
            callgrind_tcp_rows(raw) if g["program"] == "callgrind_tcp" else \
            callgrind_tcp_rows(raw, "callgrind_tcp_app", TCP_APP_CALLGRIND_MODES, ("nic", "host")) \
            if g["program"] == "callgrind_tcp_app" else \
            callgrind_tcp_rows(raw, "callgrind_tcp_lanes", TCP_LANES_CALLGRIND_MODES, ("round",)) \
            if g["program"] == "callgrind_tcp_lanes" else group_rows(g, quick, raw)
        mname, _, better, unit = g["measure"]
        sname, _, sbetter, sunit = g["second"]
        head = f"**{g['title']}** — {mname}, {better} is better; second column: {sname}"
        if g.get("baseline_text"):
            head += f"; baseline: {g['baseline_text']}"
        lines.append(f"| {head} | | | | | |")
        if st.get("exit") not in (0, None) or not rows:
            why = st.get("why") or (f"exit status {st.get('exit')}" if st.get("exit") not in (0, None) else "no results")
            if st.get("exit") != 77:
                failed = True
            lines.append(f"| {g['program']}: not measured ({why}) | | | | | |")
            if not rows:
                groups_json.append({"group": g["key"], "error": why})
                continue
        by_name = {r["row"]: r for r in rows}
        for r in rows:
            if r["error"]:
                failed = True
                lines.append(f"| {r['row']} | **error**: {r['error']} | | | | |")
                continue
            base = by_name.get(r["base"]) if r["base"] else None
            rat = ratio(r["m"], base["m"]) if base else None
            if r.get("note"):
                lines.append(f"| {r['row']} | | | | {fmt(r['s']['median'], 'ns')} ({fmt_range(r['s'], 'ns')}), n={r['s']['n']} | |")
                continue
            m = r["m"]
            pr = None
            if r["base"] is None:
                rcell = "baseline" if g.get("baseline_text") and g.get("is_baseline", lambda _: True)(r["row"]) else ""
            elif rat is not None and better == LOWER and 0 < rat < 1:
                rcell = f"{rat:.3g}× {r['base']} ({1 / rat:.3g}× less)"
            else:
                rcell = f"{rat:.3g}× {r['base']}" if rat is not None else \
                    (f"- ({r['base']}: error)" if r["base"] in by_name else f"- (no {r['base']} in this run)")
                pr = paired_ratios(r, base) if g.get("paired") and base else None
                if pr:
                    rcell += f"; paired {pr['median']:.3g}× ({pr['min']:.3g}–{pr['max']:.3g}, n={pr['n']})"
            if g["key"] == "callgrind":
                second = f"NIC {fmt(r['nic']['median'], 'Ir')} + host {fmt(r['host']['median'], 'Ir')}"
            elif g["key"] == "tcp_callgrind":
                second = f"sink {fmt(r['sink']['median'], 'Ir')} + engine {fmt(r['engine']['median'], 'Ir')}"
            elif g["key"] == "tcp_lanes_callgrind":
                second = f"{fmt(r['round']['median'], 'Ir')} per round"
            elif g["key"] == "tcp_app_callgrind":
                second = f"sim_nic {fmt(r['nic']['median'], 'Ir')} + host {fmt(r['host']['median'], 'Ir')}"
            else:
                s = r["s"]
                srat = ratio(s, base["s"]) if base and s else None
                second = f"{fmt(s['median'], sunit)} ({fmt_range(s, sunit)})" if s else "-"
                if srat is not None:
                    second += f", {srat:.3g}×"
                second += r["extra"]
            lines.append(f"| {r['row']} | {fmt(m['median'], unit)} | {fmt_range(m, unit)}, n={m['n']} | {rcell} | "
                         f"{second} | {target_cell(r, rat, pr)} |")
        groups_json.append({"group": g["key"], "title": g["title"], "measure": mname, "better": better,
                            "second": sname, "rows": rows})
        chart(out, g, rows)
    b, mach = meta["build"], meta["machine"]
    cb = status.get("callgrind", {}).get("build")
    ls, le = meta.get("load_start", []), meta.get("load_end", [])
    header = [
        f"Measured {meta['started']} with `{meta['command']}` ({meta.get('seconds', '?')} s): "
        f"{mach['cpus']} CPUs ({mach['cpu']}), Linux {mach['kernel']}; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in ls)} at the start, {'/'.join(f'{x:.1f}' for x in le)} at the end. "
        f"Build `{b['dir']}` ({b['build_type']}, `{b['flags']}`, {b['compiler']}) at {b['commit']}"
        + (f"; the callgrind rows from `{cb['dir']}` ({cb['build_type']}, `{cb['flags']}`: valgrind 3.19 cannot "
           "decode the AVX-512 that -march=native emits here)." if cb else "."),
        "",
        f"Each row: the median over {meta['reps']} repetitions run in random order among the other rows of "
        "its program (Google Benchmark's random interleaving; callgrind modes shuffled the same way), "
        "the min–max of those repetitions, and the ratio of its median to the median of the baseline row "
        "measured in the same program run (headline column; the second column's ratio follows it). "
        "Wall-clock rows on this shared 2-vCPU VM move with the load; instruction counts do not.",
    ]
    if quick:
        header.append("")
        header.append("**Quick run** (`--quick`): shorter repetitions and the target rows only; noisier than a full run.")
    if note:
        header += ["", note]
    table = ["| row | median | min – max, n | ratio to baseline (same run) | second column: median (min – max), ratio | target |",
             "|---|---:|---:|---|---|---|"] + lines + callgrind_table(groups_json)
    md = ["# ringlab benchmark report", ""] + header + [""] + table + [""]
    for g in groups_json:
        if os.path.exists(os.path.join(out, g["group"] + ".svg")):
            md.append(f"![{g['group']}]({g['group']}.svg)")
    md += soak_table(raw)
    rings_json = os.path.join(raw, "rings_bench.json")
    if os.path.exists(rings_json):   # every ring design measured, as rings/README.md shows them
        r = subprocess.run([sys.executable, os.path.join(HERE, "rings", "ratio_table.py"), rings_json],
                           capture_output=True, text=True)
        if r.returncode == 0:
            md += ["", "## Rings: every design measured (bench/rings/ratio_table.py, medians)", "", r.stdout]
    md += ["", "Raw results (Google Benchmark JSON and console logs, callgrind samples): `raw/`. "
           "Commands: `raw/run.json`."]
    open(os.path.join(out, "report.md"), "w").write("\n".join(md) + "\n")
    json.dump({"meta": meta, "note": note, "groups": groups_json}, open(os.path.join(out, "report.json"), "w"),
              indent=1, default=str)
    log(f"report: {os.path.join(out, 'report.md')}")
    if readme:
        update_readme(readme, header, table)
    return failed


def update_readme(path, header, table):
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"report.py: {path} has no '{BEGIN}' ... '{END}' lines to replace")
    a, rest = text.split(BEGIN, 1)
    _, z = rest.split(END, 1)
    body = "\n".join(["", "Generated by `./lab bench` (bench/report.py); regenerate this section with "
                      "`./lab bench --readme`.", ""] + header + [""] + table + [""])
    open(path, "w").write(a + BEGIN + "\n" + body + END + z)
    log(f"README section replaced: {path}")


def chart(out, g, rows):
    """One SVG per group: each row's median with its min-max as an error bar (no per-repetition bars)."""
    if not shutil.which("gnuplot"):
        return
    pts = [(r["row"], r["m"]) for r in rows if r.get("m") and not r.get("error")]
    if not pts:
        return
    lo = min(s["min"] for _, s in pts)
    spread = max(s["max"] for _, s in pts) / lo if lo > 0 else 0
    scale = "set logscale y\nset yrange [*:*]" if spread > 50 else "set yrange [0:*]"   # one wild repetition
    dat = os.path.join(out, g["key"] + ".dat")
    with open(dat, "w") as f:
        for i, (name, s) in enumerate(pts):
            f.write(f"{i} \"{name}\" {s['median']} {s['min']} {s['max']}\n")
    script = f"""
set terminal svg size 1000,520 dynamic font "sans,11" noenhanced
set output "{os.path.join(out, g['key'] + '.svg')}"
set title "{g['title']}"
set ylabel "{g['measure'][0]} (median, bar: min-max)"
set style fill solid 0.7 border -1
set boxwidth 0.7
set xtics rotate by -30 left
set format y "%.3s %c"
set grid ytics
{scale}
set rmargin 14
set xrange [-0.6:{len(pts) - 0.4}]
set key off
set bmargin 9
plot "{dat}" using 1:3:xtic(2) with boxes linecolor rgb "#3465a4", "" using 1:3:4:5 with yerrorbars linecolor rgb "#000000" pointtype 0
"""
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    if r.returncode != 0:
        log(f"gnuplot failed for {g['key']}: {r.stderr.strip()[:200]}")
    os.remove(dat)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("build")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--only")
    r.add_argument("--callgrind-build", default=os.path.join(ROOT, "build", "default"),
                   help="the build whose callgrind_rx runs under valgrind (default: build/default)")
    for q in (r, sub.add_parser("render")):
        if q is not r:
            q.add_argument("out")
        q.add_argument("--readme", nargs="?", const=os.path.join(ROOT, "README.md"))
        q.add_argument("--note")
    r.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    a = p.parse_args()
    if a.cmd == "run":
        sys.exit(cmd_run(a))
    sys.exit(1 if render(a.out, a.readme, a.note) else 0)


if __name__ == "__main__":
    main()
