#!/usr/bin/env python3
"""Turn rings_bench's JSON (--benchmark_out=FILE --benchmark_out_format=json) into the Markdown ratio
table of rings/README.md. With repetitions, the median of each benchmark is used.

usage: ratio_table.py RESULTS.json [> table.md]
"""
import json
import statistics
import sys
from collections import defaultdict

BASELINES = ["boost-spsc", "rte-sp-sc", "rte-mp-mc", "boost-mpmc"]
# (design, baseline, mode, burst, target ratio) - the targets
TARGETS = [("spsc", "boost-spsc", "cross", 1, 1.5), ("spsc", "rte-sp-sc", "cross", 32, 1.2),
           ("mpmc-mp-mc", "rte-mp-mc", "cross", 32, 1.0),
           ("batch", "boost-spsc", "cross", 1, 1.5), ("batch", "rte-sp-sc", "cross", 32, 1.2),
           # the control (issue 15.8): batch without its burst prefetches, against the same target
           ("batch-nopf", "rte-sp-sc", "cross", 32, 1.2),
           # batch with the consumer's idle polls (issue 15.8): one configuration for both targets
           ("batch-idle", "boost-spsc", "cross", 1, 1.5), ("batch-idle", "rte-sp-sc", "cross", 32, 1.2)]
OURS = ("spsc", "batch", "batch-idle", "mpmc-sp-sc", "mpmc-mp-mc", "netmap", "umem")


def load(path):
    with open(path) as f:
        doc = json.load(f)
    runs = defaultdict(list)
    windows = defaultdict(list)   # cross-core: M items/s of the median timing window, per repetition, in run order
    rtts = defaultdict(list)      # cross-core: the core-to-core round trip measured before each repetition
    floor = []
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        if name.startswith("floor/"):
            floor.append(b["real_time"])   # one iteration is one round trip (time_unit ns)
            continue
        mode, design, esize, burst = name.split("/")[:4]
        key = (mode, design, esize, int(burst.split(":")[1]))
        runs[key].append(b["items_per_second"])
        windows[key].append(b.get("window_Mps"))   # None: under 10 windows in that repetition
        rtts[key].append(b.get("rtt_ns"))          # None: a row without the per-repetition round trip
    return doc.get("context", {}), {k: statistics.median(v) for k, v in runs.items()}, floor, runs, windows, rtts


# The hypervisor places the two vCPUs near (one host core complex: a round trip under ~100 ns) or far
# (500-1300 ns) and moves them during a run; a repetition's rtt_ns says which. Between the two the lab's
# VMs show nothing, so any threshold in the gap sorts them the same.
NEAR_NS = 250


def by_placement(items, rtts):
    """{"near": [...], "far": [...]}: the items/s of each repetition, sorted by its round trip."""
    out = {"near": [], "far": []}
    for x, t in zip(items, rtts):
        if t is not None:
            out["near" if t < NEAR_NS else "far"].append(x)
    return out


def warnings(ctx, floor, rtts):
    """Lines that say when the run's figures are not what they seem: a loaded machine (another process
    took the cores from the two threads), and a floor (timed once, by its own rows) whose placement is
    not the one the repetitions ran in (the hypervisor moved the vCPUs)."""
    out = []
    load, cpus = ctx.get("load_avg", []), ctx.get("num_cpus") or 0
    if load and cpus and load[0] >= 0.5 * cpus:
        out.append(f"**Warning:** load average {load[0]:.1f} on {cpus} CPUs when the run began (the last minute's "
                   "average: a build that just ended counts, a process still running takes the cores from the producer "
                   "and consumer threads), so items/s may be low; compare the rows of this run with each other (paired, "
                   "below), not with another run's.")
    reps = [t for v in rtts.values() for t in v if t is not None]
    if floor and reps:
        floor_place = "near" if statistics.median(floor) < NEAR_NS else "far"
        other = sum(1 for t in reps if (t < NEAR_NS) != (floor_place == "near"))
        if other:
            out.append(f"**Note:** the floor above is {floor_place}, but {other} of {len(reps)} cross-core repetitions "
                       f"ran {'far' if floor_place == 'near' else 'near'} (their own rtt_ns): the hypervisor moved the "
                       "vCPUs during the run; \"Targets by placement\" below compares like with like.")
    return out


def cv(v):
    return statistics.stdev(v) / statistics.mean(v) * 100 if len(v) > 1 else 0.0


def target_samples(samples):
    """(label, target, design's samples, baseline's samples) for each target both sides of which were measured."""
    for d, base, mode, burst, want in TARGETS:
        for esize in ("8B", "64B"):
            sa, sb = samples.get((mode, d, esize, burst)), samples.get((mode, base, esize, burst))
            if sa and sb and any(x is not None for x in sa) and any(x is not None for x in sb):
                yield f"{d} / {base}, {mode}-core, burst {burst}, {esize}: >= {want}x", want, sa, sb


def paired(sa, sb):
    """Median (min-max) of design_i / baseline_i, the i-th repetitions of each in run order."""
    pairs = [x / y for x, y in zip(sa, sb) if x is not None and y]
    if not pairs:
        return "-"
    return f"{statistics.median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f})"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ctx, r, floor, runs, windows, rtts = load(sys.argv[1])
    designs = sorted({k[1] for k in r}, key=lambda d: (d not in ("spsc", "batch", "mpmc-mp-mc", "mpmc-sp-sc"), d))
    out = []
    out.append(f"Run: {ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
               f"load average {', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))}.")
    if floor:
        out.append(f"Core-to-core cache-line round trip: {statistics.median(floor):.0f} ns (median of {len(floor)}).")
    out.extend(warnings(ctx, floor, rtts))
    out.append("")
    out.append("### Targets")
    out.append("The range pairs the design's slowest repetition with the baseline's fastest and the other way round; "
               "paired is the median (min-max) of design_i / baseline_i, the i-th repetitions of each in run order "
               "(interleaved in one run, so each pair saw nearly the same machine); "
               "cv is the coefficient of variation of items/s over the repetitions (design / baseline).")
    out.append("")
    out.append("| target | measured (median / median) | range | paired | cv | met |")
    out.append("|---|---|---|---|---|---|")
    for label, want, ra, rb in target_samples(runs):
        a, b = statistics.median(ra), statistics.median(rb)
        out.append(f"| {label} | {a / b:.2f}x | {min(ra) / max(rb):.2f}-{max(ra) / min(rb):.2f}x | {paired(ra, rb)} | "
                   f"{cv(ra):.0f}% / {cv(rb):.0f}% | {'yes' if a / b >= want else 'NO'} |")
    if any(x is not None for v in windows.values() for x in v):
        out.append("")
        out.append("### Targets while both threads ran")
        out.append("The same targets on window_Mps: the consumer times windows of 8 rings' worth of items, and each "
                   "repetition gives the rate of its median window, so the minutes in which the scheduler or the "
                   "hypervisor stopped either thread fall out. Medians over the repetitions; paired as above.")
        out.append("")
        out.append("| target | design M/s | baseline M/s | ratio | paired | met |")
        out.append("|---|---|---|---|---|---|")
        for label, want, wa_all, wb_all in target_samples(windows):
            wa, wb = [x for x in wa_all if x is not None], [x for x in wb_all if x is not None]
            a, b = statistics.median(wa), statistics.median(wb)
            out.append(f"| {label} | {a:.0f} ({min(wa):.0f}-{max(wa):.0f}) | {b:.0f} ({min(wb):.0f}-{max(wb):.0f}) | "
                       f"{a / b:.2f}x | {paired(wa_all, wb_all)} | {'yes' if a / b >= want else 'NO'} |")
    if any(x is not None for v in rtts.values() for x in v):
        out.append("")
        out.append("### Targets by placement")
        out.append(f"Each cross-core repetition first times round trips of one line between its two threads (rtt_ns: the median of 100 blocks of 10); "
                   f"under {NEAR_NS} ns the hypervisor had the two vCPUs near each other, above it far. Items/s medians "
                   "(min-max) of the repetitions in each placement, design against baseline; n is how many repetitions "
                   "of each landed there.")
        out.append("")
        out.append("| target | placement | design M/s | baseline M/s | ratio | n | met |")
        out.append("|---|---|---|---|---|---|---|")
        for d, base, mode, burst, want in TARGETS:
            for esize in ("8B", "64B"):
                ka, kb = (mode, d, esize, burst), (mode, base, esize, burst)
                if ka not in runs or kb not in runs:
                    continue
                pa, pb = by_placement(runs[ka], rtts[ka]), by_placement(runs[kb], rtts[kb])
                for place in ("near", "far"):
                    va, vb = [x / 1e6 for x in pa[place]], [x / 1e6 for x in pb[place]]
                    if not va or not vb:
                        continue
                    a, b = statistics.median(va), statistics.median(vb)
                    out.append(f"| {d} / {base}, {mode}-core, burst {burst}, {esize}: >= {want}x | {place} | "
                               f"{a:.0f} ({min(va):.0f}-{max(va):.0f}) | {b:.0f} ({min(vb):.0f}-{max(vb):.0f}) | "
                               f"{a / b:.2f}x | {len(va)} / {len(vb)} | {'yes' if a / b >= want else 'NO'} |")
    for mode in ("cross", "single"):
        for esize in ("8B", "64B"):
            out.append("")
            out.append(f"### {'Producer -> consumer across cores' if mode == 'cross' else 'Single thread, enqueue+dequeue'}, {esize} elements")
            bursts = sorted({k[3] for k in r if k[0] == mode and k[2] == esize})
            head = "| design | " + " | ".join(f"burst {b}: Mitems/s (ns/item)" for b in bursts) + " | ratio at burst 32 vs " + \
                   ", ".join(BASELINES) + " |"
            out.append(head)
            out.append("|---" * (len(bursts) + 2) + "|")
            for d in designs:
                cells = []
                for b in bursts:
                    v = r.get((mode, d, esize, b))
                    cells.append(f"{v / 1e6:.0f} ({1e9 / v:.1f})" if v else "-")
                ratios = []
                for base in BASELINES:
                    a, c = r.get((mode, d, esize, 32)), r.get((mode, base, esize, 32))
                    ratios.append(f"{a / c:.2f}" if a and c else "-")
                out.append(f"| {d} | " + " | ".join(cells) + " | " + " / ".join(ratios) + " |")
            out.append("")
            out.append(f"Ratio to baseline at every burst ({mode}, {esize}):")
            out.append("")
            out.append("| design | baseline | " + " | ".join(f"b{b}" for b in bursts) + " |")
            out.append("|---|---" + "|---" * len(bursts) + "|")
            for d in OURS:
                for base in BASELINES:
                    row = []
                    for b in bursts:
                        a, c = r.get((mode, d, esize, b)), r.get((mode, base, esize, b))
                        row.append(f"{a / c:.2f}" if a and c else "-")
                    if any(x != "-" for x in row):
                        out.append(f"| {d} | {base} | " + " | ".join(row) + " |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
