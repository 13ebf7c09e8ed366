#!/usr/bin/env python3
"""Every skipped test of a `./lab test` run, with its reason, from ctest's JUnit files.

Usage: skip_summary.py [--ci] PRESET=BUILD_DIR[=JUNIT] ...
Reads JUNIT (default BUILD_DIR/ctest-junit.xml, written by `ctest --output-junit`) for each preset and prints one line
per skipped test: the preset, the test's name, and the reason the test printed (the text after
GoogleTest's "Skipped" line, or a script's "skipped: ..." line). With --ci (CI=true) the run fails, exit
1, when a test labelled `netns` skipped: on the lab's CI machines those must run. Exit 2 when a JUnit
file is missing or unreadable (the summary cannot vouch for a run it cannot read).
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

MUST_RUN_UNDER_CI = "netns"   # the label of the tests CI must not skip (namespaces, AF_XDP, DPDK)


def reason_of(output: str) -> str:
    """The reason a skipped test printed, as one line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):   # GoogleTest: "file:line: Skipped", the message, "[  SKIPPED ] ..."
        if line.rstrip().endswith(": Skipped"):
            msg = []
            for follow in lines[i + 1:]:
                if follow.startswith("[  SKIPPED ]"):
                    break
                if follow.strip():
                    msg.append(follow.strip())
            if msg:
                return " ".join(msg)
    for line in lines:                 # a script (SKIP_RETURN_CODE): "skipped: <reason>"
        if line.lower().startswith("skipped: "):
            return line[len("skipped: "):].strip()
    rest = [l.strip() for l in lines if l.strip()]
    return rest[-1] if rest else "(the test printed no reason)"


def labels_of(build_dir: str) -> dict:
    """Test name -> its labels, from `ctest --show-only=json-v1` ({} when ctest cannot say)."""
    try:
        out = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"], capture_output=True,
                             text=True, check=True).stdout
        tests = json.loads(out).get("tests", [])
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        return {}
    labels = {}
    for t in tests:
        for p in t.get("properties", []):
            if p.get("name") == "LABELS":
                labels[t["name"]] = p.get("value", [])
    return labels


def main(argv):
    ci = "--ci" in argv
    runs = [a for a in argv if a != "--ci"]
    if not runs:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    skipped, counts, unreadable = [], [], []
    for run in runs:
        preset, _, rest = run.partition("=")
        build_dir, _, junit = rest.partition("=")
        junit = junit or os.path.join(build_dir, "ctest-junit.xml")
        try:
            cases = ET.parse(junit).getroot().iter("testcase")
        except (OSError, ET.ParseError) as e:
            unreadable.append(f"{preset}: {junit}: {e}")
            continue
        n = 0
        labels = None
        for case in cases:
            n += 1
            if case.find("skipped") is None:   # ran, or not run for a reason ctest counts as a failure
                continue
            if labels is None:
                labels = labels_of(build_dir)
            name = case.get("name")
            out = case.findtext("system-out") or ""
            skipped.append((preset, name, reason_of(out), labels.get(name, [])))
        counts.append(f"{preset}: {n} tests")
    print("[lab] skip summary (" + ", ".join(counts) + ")", file=sys.stderr)
    if not skipped:
        print("[lab]   no test skipped", file=sys.stderr)
    for preset, name, reason, _ in skipped:
        print(f"[lab]   SKIPPED {preset} {name}: {reason}", file=sys.stderr)
    for u in unreadable:
        print(f"[lab]   cannot read the results of {u}", file=sys.stderr)
    if unreadable:
        return 2
    if ci:
        must = [s for s in skipped if MUST_RUN_UNDER_CI in s[3]]
        if must:
            print(f"[lab] CI=true: {len(must)} test(s) labelled '{MUST_RUN_UNDER_CI}' skipped; on CI they must run:",
                  file=sys.stderr)
            for preset, name, reason, _ in must:
                print(f"[lab]   {preset} {name}: {reason}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
