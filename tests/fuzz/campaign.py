#!/usr/bin/env python3
"""A fuzzing campaign over the libFuzzer targets of a `fuzz` preset build (`./lab fuzz` runs this).

For each target (build/fuzz/fuzz_targets/NAME.txt, written by ringlab_fuzz_target in cmake/ringlab.cmake):
seed its corpus (the folder's corpus/ or what ringlab_fuzz_seeds writes from traces/), run libFuzzer
under `nice` with the target's dictionary until it has executed --runs inputs or --time seconds
passed, one target at a time, then report executions, executions per second, coverage (libFuzzer's
cov: edges and ft: features), corpus size and crashes. The corpus of each target is kept under
OUT/NAME/corpus, so the next campaign goes on from where this one stopped; crash inputs land in
OUT/NAME/crashes with the command that reproduces them.

Exit status: 0 when no target crashed, 1 when one did (or a fuzzer could not run), 2 on bad arguments.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time


def read_manifest(path):
    m = {}
    with open(path) as f:
        for line in f:
            if '=' in line:
                k, v = line.rstrip('\n').split('=', 1)
                m[k] = v
    m['name'] = os.path.splitext(os.path.basename(path))[0]
    return m


def seed(m, corpus):
    os.makedirs(corpus, exist_ok=True)
    if m.get('seeds_cmd'):
        cmd = m['seeds_cmd'].split(';') + [corpus]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{m['name']}: seeding failed: {' '.join(cmd)}: {r.stderr.strip()}")
    else:
        src = m['corpus']
        if not os.path.isdir(src):
            raise RuntimeError(f"{m['name']}: seed corpus {src} is not a directory")
        for f in sorted(os.listdir(src)):
            shutil.copyfile(os.path.join(src, f), os.path.join(corpus, 'seed-' + f))


STAT = re.compile(r'^stat::(\w+):\s+(\d+)')
PROGRESS = re.compile(r'^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/')


def parse_log(text):
    s = {'execs': 0, 'exec_per_sec': 0, 'cov': 0, 'ft': 0, 'corpus': 0, 'peak_rss_mb': 0, 'new_units': 0}
    for line in text.splitlines():
        m = PROGRESS.match(line)
        if m:
            s['cov'], s['ft'], s['corpus'] = int(m.group(2)), int(m.group(3)), int(m.group(4))
        m = STAT.match(line)
        if m:
            key = {'number_of_executed_units': 'execs', 'average_exec_per_sec': 'exec_per_sec',
                   'new_units_added': 'new_units', 'peak_rss_mb': 'peak_rss_mb'}.get(m.group(1))
            if key:
                s[key] = int(m.group(2))
    return s


def run_target(m, out, runs, seconds, nice):
    work = os.path.join(out, m['name'])
    corpus = os.path.join(work, 'corpus')
    crashes = os.path.join(work, 'crashes')
    os.makedirs(crashes, exist_ok=True)
    seed(m, corpus)
    before = set(os.listdir(crashes))
    cmd = ['nice', '-n', str(nice), m['binary'], f'-runs={runs}', f"-max_len={m['max_len']}",
           '-print_final_stats=1', f'-artifact_prefix={crashes}/', '-seed=0']
    if seconds:
        cmd.append(f'-max_total_time={seconds}')
    if m.get('dict'):
        cmd.append(f"-dict={m['dict']}")
    cmd.append(corpus)
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', 'detect_leaks=1'))
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace', env=env)
    wall = time.monotonic() - t0
    with open(os.path.join(work, 'log.txt'), 'w') as f:
        f.write(' '.join(cmd) + '\n' + r.stdout)
    s = parse_log(r.stdout)
    # libFuzzer's average_exec_per_sec is executions over whole seconds elapsed: 0 for a run under a
    # second. Executions over the run's own wall time instead (process start included).
    s['exec_per_sec'] = round(s['execs'] / wall) if wall > 0 else 0
    new = sorted(set(os.listdir(crashes)) - before)
    s.update(name=m['name'], wall_s=round(wall, 1), exit=r.returncode,
             crashes=[os.path.join(crashes, c) for c in new], binary=m['binary'],
             corpus_files=len(os.listdir(corpus)), log=os.path.join(work, 'log.txt'))
    return s


def table(results, runs_goal):
    head = f"| target | executions | exec/s | cov (edges) | ft (features) | corpus | crashes | wall s | >= {runs_goal:,} runs |"
    rows = [head, '|' + '---|' * 9]
    for s in results:
        rows.append(f"| {s['name']} | {s['execs']:,} | {s['exec_per_sec']:,} | {s['cov']} | {s['ft']} | "
                    f"{s['corpus_files']} | {len(s['crashes'])} | {s['wall_s']} | {'yes' if s['execs'] >= runs_goal else 'no'} |")
    return '\n'.join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('build', help='the fuzz preset build directory (build/fuzz)')
    ap.add_argument('--target', action='append', default=[], help='a target (repeatable; default: all); --list names them')
    ap.add_argument('--runs', type=int, default=1_000_000, help='executions per target (default 1000000)')
    ap.add_argument('--time', type=int, default=0, help='seconds per target at most (default: no limit)')
    ap.add_argument('--out', default=None, help='campaign directory (default BUILD/fuzz-campaign)')
    ap.add_argument('--nice', type=int, default=10)
    ap.add_argument('--list', action='store_true', help='print the targets and exit')
    ap.add_argument('--check-args', action='store_true',
                    help='check the arguments and exit (./lab fuzz does, before it builds anything)')
    a = ap.parse_args()
    # Bad arguments are refused before anything is read or built (./lab fuzz --check-args first).
    if a.runs <= 0 or a.time < 0:
        print('fuzz: --runs must be > 0 and --time >= 0', file=sys.stderr)
        return 2
    manifests = {read_manifest(p)['name']: read_manifest(p)
                 for p in sorted(glob.glob(os.path.join(a.build, 'fuzz_targets', '*.txt')))}
    if a.check_args:
        # The manifests exist once the preset is configured (file(GENERATE)), before anything is built:
        # a misspelt --target is refused then, not after the build.
        unknown = [n for n in a.target if manifests and n not in manifests]
        if unknown:
            print(f"fuzz: unknown target {', '.join(unknown)}; targets: {', '.join(manifests)}", file=sys.stderr)
            return 2
        return 0
    if not manifests:
        print(f"fuzz: no targets in {a.build}/fuzz_targets (build the fuzz preset: ./lab build --preset fuzz)", file=sys.stderr)
        return 2
    if a.list:
        print('\n'.join(manifests))
        return 0
    names = a.target or list(manifests)
    unknown = [n for n in names if n not in manifests]
    if unknown:
        print(f"fuzz: unknown target {', '.join(unknown)}; targets: {', '.join(manifests)}", file=sys.stderr)
        return 2
    out = a.out or os.path.join(a.build, 'fuzz-campaign')
    results = []
    for n in names:   # one at a time: the machine has few cores and other work
        m = manifests[n]
        if not os.access(m['binary'], os.X_OK):
            print(f"fuzz: {n}: {m['binary']} is not built (./lab build --preset fuzz --target ringlab_fuzz_targets)", file=sys.stderr)
            return 1
        print(f"fuzz: {n} ...", file=sys.stderr, flush=True)
        results.append(run_target(m, out, a.runs, a.time, a.nice))
    text = table(results, a.runs)
    bad = [s for s in results if s['crashes'] or s['exit'] != 0]
    lines = [text, '']
    for s in bad:
        lines.append(f"CRASH {s['name']}: exit {s['exit']}, log {s['log']}")
        for c in s['crashes']:
            lines.append(f"  reproduce: {s['binary']} {c}")
    lines.append(f"{len(results)} target(s), {sum(s['execs'] for s in results):,} executions, {len(bad)} crashed")
    print('\n'.join(lines))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'summary.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(out, 'summary.json'), 'w') as f:
        json.dump(results, f, indent=1)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
