#!/usr/bin/env python3
"""The layering checker (cmake/check_layering.py) on a tree made here: it must name every include that
breaks DESIGN.md's direction, file:line and rule, exit 1, and pass the allowed forms (transitive, beside
the file, not ours). Usage: test_check_layering.py PATH/TO/check_layering.py"""
import os
import subprocess
import sys
import tempfile
import unittest

CHECKER = None

# file -> lines. Line numbers in EXPECTED count from 1 in these lists.
TREE = {
    "rings/spsc_ring.hpp": ['#pragma once', '#include <atomic>', '#include "port/frame_ref.hpp"'],
    "trace/trace.hpp": ['#pragma once', '#include <cstdint>'],
    "trace/clock.hpp": ['#pragma once', '#include <time.h>'],
    "port/frame_ref.hpp": ['#pragma once', '#include "rings/spsc_ring.hpp"', '#include "trace/trace.hpp"'],
    "stack/wire/udp.hpp": ['#pragma once', '#include "stack/wire/checksum.hpp"', '#include "stack/iface/interface.hpp"'],
    "stack/wire/checksum.hpp": ['#pragma once', '  #  include "trace/trace.hpp"'],
    "stack/iface/interface.hpp": [
        '#pragma once',
        '#include "stack/wire/udp.hpp"',        # allowed: wire
        '#include "port/frame_ref.hpp"',        # allowed: port
        '#include "rings/spsc_ring.hpp"',       # allowed: through port
        '#include "stack/socket/udp_socket.hpp"',  # allowed: its own part
        '#include "trace/clock.hpp"',           # forbidden: the stack reads no clock
        '#include "asio_bypass/bypass_service.hpp"',  # upward
    ],
    "stack/socket/udp_socket.hpp": ['#pragma once', '#include "stack/iface/interface.hpp"'],
    "sim_nic/sim_nic.cpp": [
        '#include "sim_nic/sim_nic.hpp"',
        '#include "sim_nic_local.hpp"',         # beside the file: sim_nic/sim_nic_local.hpp
        '#include "trace/clock.hpp"',           # allowed: through port
        '#include "rte_config.h"',              # not ours
        '#include <stdio.h>',
        '#include "tools/netns/netns.hpp"',     # tools/ is above every library
        '#include <backends/probe.hpp>',        # angle brackets are read too
    ],
    "sim_nic/sim_nic.hpp": ['#pragma once', '#include "stack/wire/udp.hpp"'],
    "sim_nic/sim_nic_local.hpp": ['#pragma once'],
    "backends/probe.hpp": ['#pragma once', '#include "port/frame_ref.hpp"'],
    "backends/afxdp/afxdp_port.cpp": [
        '#include "xdp/redirect.h"',            # beside the file: backends/afxdp/xdp/redirect.h
        '#include "sim_nic/sim_nic.hpp"',       # backends: port only
        '#include "trace/trace.hpp"',           # allowed: through port
    ],
    "backends/afxdp/xdp/redirect.h": ['#pragma once'],
    "asio_bypass/bypass_service.hpp": [
        '#pragma once', '#include "stack/iface/interface.hpp"', '#include "sim_nic/sim_nic.hpp"',
        '#include "backends/probe.hpp"', '#include "trace/clock.hpp"', '#include "tools/mcast/app.hpp"'],
    "tools/netns/netns.hpp": ['#pragma once', '#include "asio_bypass/bypass_service.hpp"'],   # tools: anything
    "tools/mcast/app.hpp": ['#pragma once'],
}

EXPECTED = [
    'asio_bypass/bypass_service.hpp:6: #include "tools/mcast/app.hpp": asio_bypass/ may not include tools/ '
    '(it may include backends, port, rings, sim_nic, stack, stack/wire, trace; DESIGN.md, Layout)',
    'backends/afxdp/afxdp_port.cpp:2: #include "sim_nic/sim_nic.hpp": backends/ may not include sim_nic '
    '(it may include port, rings, trace; DESIGN.md, Layout)',
    'rings/spsc_ring.hpp:3: #include "port/frame_ref.hpp": rings/ may not include port '
    '(it may include nothing of ours; DESIGN.md, Layout)',
    'sim_nic/sim_nic.cpp:6: #include "tools/netns/netns.hpp": sim_nic/ may not include tools/ '
    '(it may include port, rings, stack/wire, trace; DESIGN.md, Layout)',
    'sim_nic/sim_nic.cpp:7: #include <backends/probe.hpp>: sim_nic/ may not include backends '
    '(it may include port, rings, stack/wire, trace; DESIGN.md, Layout)',
    'stack/iface/interface.hpp:6: #include "trace/clock.hpp": stack/ may not include trace/clock.hpp: '
    'the stack never reads a clock: its caller passes the time in (DESIGN.md, Time is passed in)',
    'stack/iface/interface.hpp:7: #include "asio_bypass/bypass_service.hpp": stack/ may not include asio_bypass '
    '(it may include port, rings, stack/wire, trace; DESIGN.md, Layout)',
    'stack/wire/checksum.hpp:2: #include "trace/trace.hpp": stack/wire/ may not include trace '
    '(it may include nothing of ours; DESIGN.md, Layout)',
    'stack/wire/udp.hpp:3: #include "stack/iface/interface.hpp": stack/wire/ may not include stack '
    '(it may include nothing of ours; DESIGN.md, Layout)',
    'check_layering: 9 include(s) against the dependency direction (15 files, 28 includes of ours read)',
]


def make_tree(root, tree):
    for rel, lines in tree.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")


def run(root):
    p = subprocess.run([sys.executable, CHECKER, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines(), p.stderr


class CheckLayering(unittest.TestCase):
    def test_names_every_include_against_the_direction(self):
        with tempfile.TemporaryDirectory() as root:
            make_tree(root, TREE)
            rc, out, err = run(root)
            self.assertEqual(out, EXPECTED, "\n".join(out) + err)
            self.assertEqual(rc, 1)

    def test_passes_once_the_violations_are_gone(self):
        # The same tree without the lines EXPECTED names: the allowed forms alone pass.
        bad = {tuple(e.split(":")[:2]) for e in EXPECTED[:-1]}
        tree = {k: [l for i, l in enumerate(v, 1) if (k, str(i)) not in bad] for k, v in TREE.items()}
        with tempfile.TemporaryDirectory() as root:
            make_tree(root, tree)
            rc, out, err = run(root)
            self.assertEqual(out, ["check_layering: the dependency direction holds (15 files, 19 includes of ours read)"],
                             "\n".join(out) + err)
            self.assertEqual(rc, 0)

    def test_a_tree_without_library_folders_is_bad_use(self):
        with tempfile.TemporaryDirectory() as root:
            make_tree(root, {"tools/x.cpp": ['#include "stack/wire/udp.hpp"']})
            rc, out, err = run(root)
            self.assertEqual(rc, 2)
            self.assertIn("no library folder", err)


if __name__ == "__main__":
    CHECKER = sys.argv.pop(1)
    unittest.main()
