#!/usr/bin/python3
"""Checks a file against the Chrome trace-event format as Perfetto reads it (JSON object form).

Exit 0 and print "ok N events, F flows" when valid; exit 1 with one line saying what is wrong.
"""
import json
import sys


def fail(msg):
    print("invalid: " + msg)
    sys.exit(1)


def main(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except Exception as e:  # noqa: BLE001 - any parse error is the answer
        fail("not JSON: %s" % e)
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        fail("top level must be an object with a traceEvents array")
    if doc.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        fail("displayTimeUnit must be ms or ns")
    flows = {}
    slices = []
    for i, e in enumerate(doc["traceEvents"]):
        if not isinstance(e, dict):
            fail("event %d is not an object" % i)
        ph = e.get("ph")
        if ph not in ("X", "B", "E", "i", "I", "M", "s", "t", "f", "C"):
            fail("event %d: unknown ph %r" % (i, ph))
        for k in ("pid", "tid"):
            if not isinstance(e.get(k), int):
                fail("event %d: %s must be an integer" % (i, k))
        if ph == "M":
            if e.get("name") not in ("process_name", "thread_name", "process_sort_index", "thread_sort_index"):
                fail("event %d: unknown metadata %r" % (i, e.get("name")))
            if not isinstance(e.get("args"), dict):
                fail("event %d: metadata without args" % i)
            continue
        if not isinstance(e.get("ts"), (int, float)) or e["ts"] < 0:
            fail("event %d: ts must be a non-negative number" % i)
        if not isinstance(e.get("name"), str):
            fail("event %d: name must be a string" % i)
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                fail("event %d: X without a non-negative dur" % i)
            slices.append((e["pid"], e["tid"], e["ts"], e["ts"] + e["dur"]))
        if ph in ("s", "t", "f"):
            if "id" not in e:
                fail("event %d: flow event without id" % i)
            flows.setdefault(e["id"], []).append((ph, e))
    for fid, evs in flows.items():
        kinds = [p for p, _ in evs]
        if kinds.count("s") != 1 or kinds.count("f") != 1:
            fail("flow %r needs one s and one f, has %s" % (fid, kinds))
        for ph, e in evs:
            # Each flow end must sit inside a slice on its track, or Perfetto drops the arrow.
            if not any(p == e["pid"] and t == e["tid"] and b <= e["ts"] <= en for p, t, b, en in slices):
                fail("flow %r %s at ts %s binds to no slice on pid %d tid %d" % (fid, ph, e["ts"], e["pid"], e["tid"]))
    print("ok %d events, %d flows" % (len(doc["traceEvents"]), len(flows)))


if __name__ == "__main__":
    main(sys.argv[1])
