#!/usr/bin/env python3
"""A benchmark program's smoke test (ctest label bench-smoke): runs it once, short, and fails unless
every benchmark it ran measured something.

usage: smoke.py [--requires root] PROGRAM [BENCHMARK ARGS...]

Fails (exit 1) when the program exits non-zero or dies, when it ran no benchmark, or when any run
reports an error (Google Benchmark's SkipWithError, which still exits 0), ran no iteration, or
reports a zero or missing rate where it reports one. --requires root: exits 77 (ctest: skipped, the
reason printed) when not run as root, probed here, apart from the program; as root every error fails.
"""
import json
import os
import subprocess
import sys
import tempfile


def main(argv):
    requires = None
    if len(argv) >= 2 and argv[0] == "--requires":
        requires, argv = argv[1], argv[2:]
    if not argv:
        sys.exit(__doc__)
    if requires == "root" and os.geteuid() != 0:
        print(f"SKIPPED: {os.path.basename(argv[0])} needs root (it makes network namespaces)")
        return 77
    if requires not in (None, "root"):
        sys.exit(f"smoke.py: unknown requirement '{requires}' (root)")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = argv + [f"--benchmark_out={out.name}", "--benchmark_out_format=json"]
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            print(f"smoke: {' '.join(argv)} exited with status {rc}")
            return 1
        try:
            doc = json.load(open(out.name))
        except (OSError, ValueError) as e:
            print(f"smoke: no JSON results from {argv[0]}: {e}")
            return 1
    runs = [b for b in doc.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    bad = []
    for b in runs:
        name = b.get("name", "?")
        if b.get("error_occurred"):
            bad.append(f"{name}: error: {b.get('error_message', '')}")
        elif b.get("iterations", 0) <= 0:
            bad.append(f"{name}: no iteration ran")
        elif "items_per_second" in b and not b["items_per_second"] > 0:
            bad.append(f"{name}: items_per_second is {b['items_per_second']}")
        elif not b.get("real_time", 0) > 0:
            bad.append(f"{name}: measured no time")
    if not runs:
        bad.append("no benchmark ran (a filter that matches nothing?)")
    for line in bad:
        print("smoke: FAIL " + line)
    names = {b.get("run_name", b.get("name")) for b in runs}
    print(f"smoke: {len(runs)} runs of {len(names)} benchmarks, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
