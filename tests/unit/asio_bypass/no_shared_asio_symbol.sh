#!/bin/sh
# Usage: no_shared_asio_symbol.sh OBJECT...
# The io_uring build of the kernel code must define no Asio symbol under Asio's own names (its copy of
# Asio lives in namespace ringlab_asio_uring): one shared with the epoll build would be an ODR violation
# the linker resolves silently. Every command's exit status is checked, and the objects must show the
# renamed namespace at all, so that an nm that fails or objects that hold nothing cannot pass.
set -u
fail() { echo "no_shared_asio_symbol: $*" >&2; exit 1; }
[ $# -gt 0 ] || fail "no object files given"
tmp=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
for o in "$@"; do
  nm -C "$o" >>"$tmp/all" || fail "nm -C $o exited $?"
done
# Defined symbols (text, weak, data, bss, rodata, unique).
grep -E ' [TWVBDRu] ' "$tmp/all" >"$tmp/defined"
rc=$?; [ $rc -le 1 ] || fail "grep exited $rc"
renamed=$(grep -c ringlab_asio_uring "$tmp/defined")
rc=$?; [ $rc -le 1 ] || fail "grep -c exited $rc"
[ "$renamed" -gt 0 ] || fail "no symbol under ringlab_asio_uring in the $# objects: not the io_uring build, or the rename is gone"
awk '/asio/ && !/ringlab_asio_uring/' "$tmp/defined" >"$tmp/shared" || fail "awk exited $?"
if [ -s "$tmp/shared" ]; then
  echo "Asio symbols defined under Asio's own names:" >&2
  cat "$tmp/shared" >&2
  exit 1
fi
echo "ok: $# objects, $(wc -l <"$tmp/defined") defined symbols, $renamed under ringlab_asio_uring, none under Asio's own names"
