#!/usr/bin/env python3
"""Install this build into a temporary prefix, build examples/ against it through find_package and
through pkg-config, and run both builds on the sim backend: the output must be exactly the expected
datagrams, and the TCP echo example's echo must be exact (tests/install/CMakeLists.txt)."""
import argparse
import os
import re
import shutil
import subprocess
import sys

# traces/mcast-feed.pcap (traces/README.md): group 239.1.1.1 is sent from 10.0.0.1:40000 to port 5001,
# 32-byte messages: a 24-byte header (tools/mcast/datagram.hpp), then 8 bytes of quote text. The texts are
# the first five of that group, as `ringlab mcast-recv --backend sim` prints them.
EXPECTED = "".join(f"10.0.0.1:40000 len=32 px={px}\n" for px in ["146.3", "115.2", "113.7", "115.0", "107.2"]) \
    + "received 5\n"


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, text=True, capture_output=True, **kw)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        sys.exit(f"failed (exit {r.returncode}): {' '.join(cmd)}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--generator", default="Ninja")
    # The installed libraries were compiled with these (a sanitizer preset's -fsanitize=...): an app
    # linking them needs the same, as a user of such a build would.
    ap.add_argument("--cxx-compiler", required=True)
    ap.add_argument("--cxx-flags", default="")
    ap.add_argument("--linker-flags", default="")
    ap.add_argument("--build-type", default="Release")
    ap.add_argument("--libdir", default="lib")   # CMAKE_INSTALL_LIBDIR (Debian: lib/<multiarch>)
    a = ap.parse_args()
    # A fixed place in the build tree, not a fresh temporary one: the prefix's include paths are then
    # the same in every run, so ccache hits on the example's compile (CCACHE_BASEDIR, ./lab).
    tmp = os.path.join(a.build, "tests", "install", "work")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", a.build, "--prefix", prefix])
        for path in ["bin/ringlab", "include/ringlab/asio_bypass/udp_socket.hpp",
                     f"{a.libdir}/cmake/ringlab/ringlabConfig.cmake", f"{a.libdir}/cmake/ringlab/ringlabConfigVersion.cmake",
                     f"{a.libdir}/pkgconfig/ringlab.pc", f"{a.libdir}/libringlab_bypass_stack.a",
                     # the XDP objects an installed AF_XDP port opens once the build tree is gone
                     "share/ringlab/xsk_redirect.bpf.o", "share/ringlab/xsk_redirect_ipv4.bpf.o"]:
            if not os.path.exists(os.path.join(prefix, path)):
                sys.exit(f"not installed: {path}")
        # Every "..." include of an installed header resolves inside the installed tree: a header of a
        # part that does not install (tools/, tests/) would break an app only when it includes it.
        inc = os.path.join(prefix, "include", "ringlab")
        for root, _, names in os.walk(inc):
            for n in names:
                with open(os.path.join(root, n)) as f:
                    for m in re.finditer(r'^#include "([^"]+)"', f.read(), re.M):
                        if not os.path.exists(os.path.join(inc, m.group(1))):
                            sys.exit(f"{os.path.relpath(os.path.join(root, n), inc)} includes {m.group(1)}, not installed")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, a.libdir, "pkgconfig"))
        launcher = ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []
        trace = os.path.join(a.source, "traces", "mcast-feed.pcap")
        for name, flags in [("find_package", [f"-DCMAKE_PREFIX_PATH={prefix}"]),
                            ("pkg_config", ["-DRINGLAB_EXAMPLE_PKG_CONFIG=ON"])]:
            b = os.path.join(tmp, name)
            run(["cmake", "-S", os.path.join(a.source, "examples"), "-B", b, "-G", a.generator,
                 f"-DCMAKE_BUILD_TYPE={a.build_type or 'Release'}", f"-DCMAKE_CXX_COMPILER={a.cxx_compiler}",
                 f"-DCMAKE_CXX_FLAGS={a.cxx_flags}", f"-DCMAKE_EXE_LINKER_FLAGS={a.linker_flags}",
                 *launcher, *flags], env=env)
            run(["cmake", "--build", b, "-j2"], env=env)
            r = run([os.path.join(b, "mcast_recv"), "--backend", "sim", "--replay", trace,
                     "--group", "239.1.1.1", "--port", "5001", "--count", "5"])
            if r.stdout != EXPECTED:
                sys.exit(f"{name}: output differs\n--- expected\n{EXPECTED}--- got\n{r.stdout}")
            # The TCP echo example: server and client on two sim hosts in one process, over the
            # installed ringlab::bypass::tcp sockets; the client compares the echo byte for byte.
            r = run([os.path.join(b, "tcp_echo"), "--backend", "sim", "--bytes", "100000"])
            if r.stdout != "echoed 100000 bytes: exact\n":
                sys.exit(f"{name}: tcp_echo output differs: {r.stdout!r}")
            print(f"{name}: ok", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
