#!/usr/bin/env bash
# AF_XDP inside the guest on virtio-net: one datagram from the host namespace reaches ringlab
# mcast-recv --backend afxdp (our XDP program, an XSK, the user-space stack), and the XDP attach mode
# is native (virtio_net's ndo_bpf took the program). Skips (77) like the other boot tests.
#   vm_afxdp_test.sh RINGLAB_BINARY SOURCE_DIR
set -uo pipefail
ringlab="$1" src="$2"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespace and tap for the guest)"; exit 77; }
probe="$("$src/tools/vm/ringlab-vm.sh" probe 2>&1)"; rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: $probe"; exit 77; fi
out="$(mktemp)"; trap 'rm -f "$out"' EXIT
"$ringlab" vm afxdp --nic virtio > "$out" 2>&1; rc=$?
cat "$out"
[ $rc -eq 0 ] || { echo "FAIL: ringlab vm afxdp exited $rc"; exit 1; }
grep -qE '^10\.77\.0\.1:[0-9]+ > 239\.77\.0\.1:5077 seq=0 ringlab-vm-afxdp-[0-9]+$' "$out" || { echo "FAIL: the datagram line"; exit 1; }
grep -q 'mcast-recv: stack: 1 frames in, 1 datagrams delivered' "$out" || { echo "FAIL: the stack did not deliver 1 frame"; exit 1; }
grep -q '; XDP attach: native ' "$out" || { echo "FAIL: XDP attach was not native"; exit 1; }
# The bind mode as the AF_XDP port reports it (zero-copy tried first): copy on 6.1's virtio_net.
grep -q '; bind: copy (the socket: afxdp:eth0/0 (native, copy)' "$out" || { echo "FAIL: the socket's bind mode"; exit 1; }
echo PASS
