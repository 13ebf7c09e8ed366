#!/usr/bin/env bash
# Runs every benchmark program of a build, then writes what they measured as a Markdown table and one
# SVG bar chart per program. `./lab bench` calls it as: bash bench/run_all.sh build/release [args].
#
#   bash bench/run_all.sh BUILD_DIR [benchmark args...]     e.g. --benchmark_filter=uring
#
# The programs are listed in BUILD_DIR/bench/benches.txt (bench/CMakeLists.txt writes it from the
# global property RINGLAB_BENCHES that ringlab_bench() fills), so a new benchmark appears here by
# itself. Output, in BUILD_DIR/bench-results/: NAME.json (Google Benchmark's JSON), NAME.svg,
# results.md (every program's rows: time, items/s, and each user counter).
set -euo pipefail
build="${1:?usage: bash bench/run_all.sh BUILD_DIR [benchmark args...]}"
shift
list="$build/bench/benches.txt"
if [ ! -f "$list" ]; then
  echo "run_all.sh: $list not found: configure and build $build first" >&2
  exit 2
fi
out="$build/bench-results"
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.svg "$out"/*.dat "$out/results.md"
rc=0
while read -r bin; do
  [ -n "$bin" ] || continue
  name="$(basename "$bin")"
  if [ ! -x "$bin" ]; then
    echo "run_all.sh: $bin is not built: skipped" >&2
    rc=1
    continue
  fi
  echo "[bench] $name" >&2
  if ! "$bin" --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"; then
    echo "run_all.sh: $name failed" >&2
    rc=1
  fi
done < "$list"

# JSON -> Markdown table and a .dat file per program (stdlib only).
python3 - "$out" <<'PY'
import json, os, sys, glob
out = sys.argv[1]
std = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
       "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
       "bytes_per_second", "items_per_second", "label", "error_occurred", "error_message",
       "aggregate_name", "aggregate_unit"}
def si(x):
    if isinstance(x, str): return x
    a = abs(x)
    for f, s in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= f: return f"{x / f:.3g}{s}"
    return f"{x:.3g}"
md = ["# ringlab benchmarks", ""]
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path)[:-5]
    try:
        data = json.load(open(path))
    except Exception as e:
        md += [f"## {name}", "", f"(no results: {e})", ""]
        continue
    ctx = data.get("context", {})
    rows = [b for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"
            or b.get("aggregate_name") in ("median",)]
    counters = []
    for b in rows:
        for k in b:
            if k not in std and k not in counters: counters.append(k)
    md += [f"## {name}", "",
           f"{ctx.get('date', '')}, {ctx.get('host_name', '')}, {ctx.get('num_cpus', '?')} CPUs, "
           f"library build {ctx.get('library_build_type', '?')}", "",
           "| benchmark | time | items/s | " + " | ".join(counters) + " |",
           "|---|---:|---:|" + "---:|" * len(counters)]
    with open(os.path.join(out, name + ".dat"), "w") as dat:
        for b in rows:
            if b.get("error_occurred"):
                md.append(f"| {b['name']} | error: {b.get('error_message', '')} | | " + " | " * len(counters))
                continue
            t = f"{b['real_time']:.4g} {b.get('time_unit', 'ns')}"
            ips = b.get("items_per_second")
            md.append(f"| {b['name']} | {t} | {si(ips) if ips is not None else ''} | " +
                      " | ".join(si(b[c]) if c in b else "" for c in counters) + " |")
            value = ips / 1e6 if ips is not None else b["real_time"]
            dat.write(f"\"{b['name']}\" {value}\n")
        dat.write("")
    md += ["", f"![{name}]({name}.svg)", ""]
    with open(os.path.join(out, name + ".ylabel"), "w") as f:
        f.write("M items/s" if any("items_per_second" in b for b in rows) else "time per iteration")
open(os.path.join(out, "results.md"), "w").write("\n".join(md) + "\n")
PY

if command -v gnuplot >/dev/null; then
  for dat in "$out"/*.dat; do
    [ -s "$dat" ] || continue
    name="$(basename "$dat" .dat)"
    gnuplot <<GP || { echo "run_all.sh: gnuplot failed for $name" >&2; rc=1; }
set terminal svg size 1000,480 dynamic font "sans,11"
set output "$out/$name.svg"
set title "$name"
set ylabel "$(cat "$out/$name.ylabel")"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -25 left noenhanced
set grid ytics
set yrange [0:*]
set key off
set bmargin 8
plot "$dat" using 2:xtic(1) linecolor rgb "#3465a4"
GP
  done
else
  echo "run_all.sh: gnuplot not installed: no SVG (apt-get install gnuplot-nox)" >&2
fi
rm -f "$out"/*.ylabel
echo "[bench] results: $out/results.md" >&2
exit $rc
