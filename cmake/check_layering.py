#!/usr/bin/env python3
"""Holds the library folders to DESIGN.md's dependency direction (the Layout table, "may include").

Reads every #include in the library folders (rings/, trace/, port/, sim_nic/, backends/, stack/,
asio_bypass/), resolves it as the compiler does (beside the including file first, then from the
source root) and fails, naming file:line and the rule, on an include of ours that goes against the
direction. tools/, labs/, tests/ and bench/ may include anything and are not read.

A part may include what it is allowed directly and, since it links those libraries and so sees their
headers, what they are allowed in turn (port may include rings and trace, so sim_nic, which may
include port, may include trace too). An include that names no file of ours ("rte_config.h", <asio.hpp>)
is not ours and not checked.

  check_layering.py [--root DIR]     exit 0: the direction holds; 1: violations (listed); 2: bad use

Registered as the ctest test layering_includes (label unit); tests/unit/layering checks this checker
on a tree that breaks each rule.
"""
import argparse
import os
import re
import sys

# DESIGN.md, Layout: the library parts and whom each may include directly. A file belongs to the
# longest part that prefixes its path (stack/wire/udp.hpp is stack/wire's, stack/iface/x.hpp stack's).
MAY_INCLUDE = {
    "rings": [],
    "trace": [],
    "port": ["rings", "trace"],
    "sim_nic": ["port", "rings", "stack/wire"],
    "backends": ["port"],
    "stack/wire": [],
    "stack": ["port", "stack/wire", "trace"],
    # sim_nic too: backend selection opens the simulated NIC by name as it opens afxdp and dpdk.
    "asio_bypass": ["stack", "port", "backends", "sim_nic"],
}

# Headers a part must not include although its rules would let it. path -> (parts, why).
FORBIDDEN = {
    "trace/clock.hpp": (["stack", "stack/wire"],
                        "the stack never reads a clock: its caller passes the time in (DESIGN.md, Time is passed in)"),
}

# Top-level folders whose files may include anything: never read, but an include of them from a
# library part is a violation like any other.
UNRESTRICTED = ["tools", "labs", "tests", "bench", "docs", "traces", "cmake"]

SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".c", ".ipp", ".inc")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def part_of(rel_path):
    """The library part a root-relative path belongs to, or None (not a library folder)."""
    best = None
    for part in MAY_INCLUDE:
        if rel_path == part or rel_path.startswith(part + "/"):
            if best is None or len(part) > len(best):
                best = part
    return best


def allowed(part):
    """The part itself, what it may include directly, and (transitively) what those may include."""
    seen = {part}
    todo = list(MAY_INCLUDE[part])
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(MAY_INCLUDE[p])
    return seen


def ours(rel_path):
    top = rel_path.split("/", 1)[0]
    return top in MAY_INCLUDE or top in UNRESTRICTED or part_of(rel_path) is not None


def resolve(root, including_dir, quote, name):
    """The root-relative path an include names if it is a file of ours, else None."""
    candidates = []
    if quote == '"':
        candidates.append(os.path.join(including_dir, name))
    candidates.append(os.path.join(root, name))
    for c in candidates:
        if os.path.isfile(c):
            rel = os.path.relpath(os.path.realpath(c), os.path.realpath(root)).replace(os.sep, "/")
            if rel.startswith("../"):
                return None
            return rel if ours(rel) else None
    # Not on disk: ours if it names one of our folders (the compiler will complain as well).
    name = os.path.normpath(name).replace(os.sep, "/")
    return name if ours(name) else None


def describe(parts):
    return ", ".join(sorted(parts)) if parts else "nothing of ours"


def check(root):
    violations = []
    files = 0
    includes = 0
    for part in sorted(MAY_INCLUDE):
        base = os.path.join(root, part)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                own = part_of(rel)
                if own != part:
                    continue   # a subpart's file (stack/wire/ under stack/): read once, as its own
                files += 1
                ok = allowed(own)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE_RE.match(line)
                        if not m:
                            continue
                        target = resolve(root, dirpath, m.group(1), m.group(2))
                        if target is None:
                            continue
                        includes += 1
                        spelled = f'{m.group(1)}{m.group(2)}{">" if m.group(1) == "<" else chr(34)}'
                        tpart = part_of(target)
                        if tpart is None or tpart not in ok:
                            what = tpart or target.split("/", 1)[0] + "/"
                            violations.append(
                                f"{rel}:{lineno}: #include {spelled}: {own}/ may not include {what} "
                                f"(it may include {describe(ok - {own})}; DESIGN.md, Layout)")
                        elif target in FORBIDDEN and own in FORBIDDEN[target][0]:
                            violations.append(f"{rel}:{lineno}: #include {spelled}: {own}/ may not include "
                                              f"{target}: {FORBIDDEN[target][1]}")
    return files, includes, violations


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="source root (default: the tree this script is in)")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.root):
        print(f"check_layering: --root {a.root}: not a directory", file=sys.stderr)
        return 2
    files, includes, violations = check(a.root)
    if files == 0:
        print(f"check_layering: {a.root}: no library folder ({', '.join(sorted(MAY_INCLUDE))}) holds a source file",
              file=sys.stderr)
        return 2
    for v in violations:
        print(v)
    if violations:
        print(f"check_layering: {len(violations)} include(s) against the dependency direction "
              f"({files} files, {includes} includes of ours read)")
        return 1
    print(f"check_layering: the dependency direction holds ({files} files, {includes} includes of ours read)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
