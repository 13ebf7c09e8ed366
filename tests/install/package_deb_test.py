#!/usr/bin/env python3
"""cpack -G DEB over this build: the package's control fields and its contents (the CLI, a header, the
CMake package, ringlab.pc) are checked exactly (tests/install/CMakeLists.txt)."""
import argparse
import os
import shutil
import subprocess
import sys


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, text=True, capture_output=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        sys.exit(f"failed (exit {r.returncode}): {' '.join(cmd)}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--depends", required=True)
    # What the package must use: Debian's multiarch directory, as dpkg-architecture names it (not
    # read back from the build), unless the build was configured with another CMAKE_INSTALL_LIBDIR.
    ap.add_argument("--libdir", required=True)
    a = ap.parse_args()
    for tool in ("cpack", "dpkg-deb", "dpkg-architecture"):
        if not shutil.which(tool):   # the machine's lack, not ours
            print(f"skipped: {tool} is not installed")
            sys.exit(77)
    work = os.path.join(a.build, "tests", "install", "deb")
    shutil.rmtree(work, ignore_errors=True)
    run(["cpack", "-G", "DEB", "--config", os.path.join(a.build, "CPackConfig.cmake"), "-B", work])
    debs = [f for f in os.listdir(work) if f.endswith(".deb")]
    if debs != [f"ringlab_{a.version}_amd64.deb"]:
        sys.exit(f"expected one ringlab_{a.version}_amd64.deb in {work}, found {debs}")
    deb = os.path.join(work, debs[0])
    fields = {k: run(["dpkg-deb", "-f", deb, k]).strip() for k in ("Package", "Version", "Depends", "Maintainer")}
    want = {"Package": "ringlab", "Version": a.version, "Depends": a.depends,
            "Maintainer": "ringlab maintainers <ringlab@localhost>"}
    if fields != want:
        sys.exit(f"control fields differ:\n  want {want}\n  got  {fields}")
    multiarch = "lib/" + run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).strip()
    if a.libdir != multiarch:
        sys.exit(f"the build installs libraries in {a.libdir}, not Debian's {multiarch}")
    listing = run(["dpkg-deb", "-c", deb])
    files = {line.split()[-1] for line in listing.splitlines() if line}
    for path in ["./usr/bin/ringlab", "./usr/include/ringlab/asio_bypass/udp_socket.hpp",
                 f"./usr/{multiarch}/cmake/ringlab/ringlabConfig.cmake",
                 f"./usr/{multiarch}/cmake/ringlab/ringlabTargets.cmake",
                 f"./usr/{multiarch}/pkgconfig/ringlab.pc", f"./usr/{multiarch}/libringlab_bypass_stack.a"]:
        if path not in files:
            sys.exit(f"{deb} lacks {path}; it has:\n{listing}")
    print(f"ok: {deb}, {len(files)} entries")


if __name__ == "__main__":
    main()
