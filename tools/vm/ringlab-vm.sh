#!/usr/bin/env bash
# ringlab-vm: a QEMU guest built from Debian packages only, for seeing what the host kernel hides
# (function_graph, kprobes). `ringlab vm ...` runs this script; tools/vm/README.md explains it.
#
#   ringlab-vm.sh probe                       can a guest be built and booted here? (exit 77: no, says why)
#   ringlab-vm.sh image [--bin FILE]...       fetch the kernel, build the initramfs (cached in build/vm)
#   ringlab-vm.sh run [options] -- CMD...     boot, run CMD in the guest, print its output, exit with its status
#   ringlab-vm.sh shell [options]             boot to an interactive busybox shell on this terminal
#
# run/shell options:
#   --nic virtio|e1000|none   the guest's NIC (default virtio), attached to a tap in a netns made for the run
#   --accel tcg|kvm|auto      default tcg; auto uses KVM only when `probe-kvm` showed a guest really boots
#   --timeout S               kill the guest after S seconds (default 180: TCG on a loaded machine is slow)
#   --on-signal NAME=CMD      when the guest runs `ringlab-signal NAME`, run CMD on the host inside the
#                             run's netns (the tap is RINGLAB_VM_TAP, host 10.77.0.1, guest 10.77.0.2)
#   --bin FILE                also put FILE (and its shared libraries, from ldd) into the image's /bin
#   --file FILE               also put FILE into the image at the same absolute path (BPF objects, data)
#
# Nothing here reaches outside the machine at run time: the kernel .deb is fetched once by
# `apt-get download` into build/vm, and the guest's only link is a tap inside a namespace this script
# creates and deletes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
vm_dir="${RINGLAB_VM_DIR:-$repo/build/vm}"
skip=77

log() { printf '[vm] %s\n' "$*" >&2; }
die() { printf 'ringlab vm: %s\n' "$*" >&2; exit 1; }
usage() { printf 'ringlab vm: %s\n' "$*" >&2; exit 2; }   # bad input, nothing was run (the CLI's exit 2)

# The modules the guest loads, in dependency order (Debian builds virtio and e1000 as modules).
virtio_modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net)
e1000_modules=(e1000)

qemu_bin() { command -v qemu-system-x86_64 || true; }

# Why a guest cannot be built or booted here, "" when it can. Probed apart from our own code: only
# the Debian tools and the kernel package are checked.
missing_reason() {
  [ -n "$(qemu_bin)" ] || { echo "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"; return; }
  command -v cpio >/dev/null || { echo "cpio is not installed (apt-get install cpio)"; return; }
  [ -x /bin/busybox ] && busybox_static || { echo "a static busybox is not installed (apt-get install busybox-static)"; return; }
  [ -n "$(kernel_dir 2>/dev/null)" ] || fetch_kernel >/dev/null 2>&1 ||
    { echo "the Debian kernel image could not be downloaded (apt-get download linux-image-amd64's dependency failed)"; return; }
}

busybox_static() { ! LC_ALL=C ldd /bin/busybox >/dev/null 2>&1; }

# The cached, extracted kernel package: $vm_dir/kernel/<version> with vmlinuz and lib/modules.
kernel_dir() {
  local d
  for d in "$vm_dir"/kernel/*/; do
    [ -f "$d/vmlinuz" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}

fetch_kernel() {
  local pkg dl ver
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  [ -n "$pkg" ] || die "apt-cache knows no linux-image-amd64 dependency (apt-get update?)"
  dl="$vm_dir/deb"
  mkdir -p "$dl"
  if ! ls "$dl"/"$pkg"_*.deb >/dev/null 2>&1; then
    log "apt-get download $pkg (once; cached in $dl)"
    (cd "$dl" && apt-get download "$pkg" >&2 2>/dev/null) || (cd "$dl" && apt-get download "$pkg" >&2)
  fi
  ver="${pkg#linux-image-}"
  local out="$vm_dir/kernel/$ver" tmp="$vm_dir/kernel/.x$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  dpkg-deb -x "$dl"/"$pkg"_*.deb "$tmp"
  mkdir -p "$out/lib"
  cp "$tmp/boot/vmlinuz-$ver" "$out/vmlinuz"
  cp "$tmp/boot/System.map-$ver" "$out/System.map"
  cp "$tmp/boot/config-$ver" "$out/config"
  # The uncompressed ELF image boots through PVH (no BIOS real mode, no xz decompression under TCG):
  # half the guest's CPU time to the prompt. vmlinuz stays as the fallback.
  local off
  off="$(grep -abo $'\xFD7zXZ\x00' "$out/vmlinuz" | head -1 | cut -d: -f1)"
  if [ -n "$off" ] && tail -c +$((off + 1)) "$out/vmlinuz" | xz -dc --single-stream > "$out/vmlinux.tmp" 2>/dev/null &&
     readelf -n "$out/vmlinux.tmp" 2>/dev/null | grep -q Xen; then
    mv "$out/vmlinux.tmp" "$out/vmlinux"
  else
    rm -f "$out/vmlinux.tmp"
  fi
  rm -rf "$out/lib/modules"; mv "$tmp/lib/modules" "$out/lib/modules"
  rm -rf "$tmp"
  echo "$out"
}

ensure_kernel() { kernel_dir || fetch_kernel; }
# The image QEMU loads: the PVH-bootable vmlinux when it was extracted, else vmlinuz.
boot_image() { if [ -f "$1/vmlinux" ]; then echo "$1/vmlinux"; else echo "$1/vmlinuz"; fi; }
kernel_args="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off cryptomgr.notests no_timer_check"

# Copies FILE and the shared libraries ldd names into the image tree at the same paths.
add_binary() {
  local root="$1" f="$2" name="${3:-$(basename "$2")}" lib
  [ -f "$f" ] || die "--bin $f: no such file"
  mkdir -p "$root/bin"
  # Debug info is most of a lab binary's size; the guest does not need it (smaller initramfs, faster boot).
  objcopy --strip-debug "$f" "$root/bin/$name" 2>/dev/null || cp "$f" "$root/bin/$name"
  chmod 755 "$root/bin/$name"
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
  done < <(LC_ALL=C ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}')
}

# The base initramfs: busybox, the NIC modules, /init, the guest helpers and the lab binaries given.
# Rebuilt when an input is newer than the cached archive.
build_image() {
  local k ver root img stamp_inputs=("$here/guest/init" "$here/guest/ringlab-trace-rx" "$here/guest/ringlab-afxdp-rx" "$here/ringlab-vm.sh" /bin/busybox)
  k="$(ensure_kernel)"; ver="$(basename "$k")"
  img="$vm_dir/initramfs.cpio"
  local want_bins="${bins[*]-} ${files[*]-}"
  local newer=0 f
  [ -f "$img" ] || newer=1
  [ "$(cat "$img.bins" 2>/dev/null || true)" = "$want_bins" ] || newer=1
  for f in "${stamp_inputs[@]}" ${bins[@]+"${bins[@]}"} ${files[@]+"${files[@]}"}; do
    [ "$newer" = 1 ] && break
    [ "$f" -nt "$img" ] && newer=1
  done
  if [ "$newer" = 0 ]; then echo "$k"; return; fi
  log "building the initramfs (kernel $ver, busybox-static, ${#bins[@]} lab binaries)"
  root="$vm_dir/root.$$"
  rm -rf "$root"; mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,lib/modules/"$ver"}
  cp /bin/busybox "$root/bin/busybox"
  install -m 755 "$here/guest/init" "$root/init"
  install -m 755 "$here/guest/ringlab-trace-rx" "$here/guest/ringlab-afxdp-rx" "$root/bin/"
  local m
  for m in "${virtio_modules[@]}" "${e1000_modules[@]}"; do
    f="$(find "$k/lib/modules/$ver" -name "$m.ko*" | head -1)"
    [ -n "$f" ] || die "kernel $ver has no module $m"
    cp "$f" "$root/lib/modules/$ver/"
  done
  printf '%s\n' "${virtio_modules[@]}" > "$root/etc/modules.virtio"
  printf '%s\n' "${e1000_modules[@]}" > "$root/etc/modules.e1000"
  for f in ${bins[@]+"${bins[@]}"}; do add_binary "$root" "$f"; done
  for f in ${files[@]+"${files[@]}"}; do mkdir -p "$root$(dirname "$f")"; cp "$f" "$root$f"; done
  (cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$img.tmp"
  mv "$img.tmp" "$img"
  echo "$want_bins" > "$img.bins"
  rm -rf "$root"
  log "initramfs: $(du -h "$img" | cut -f1)"
  echo "$k"
}

# KVM only where it was shown to boot: a 20 s guest boot to the marker under -accel kvm.
probe_kvm() {
  [ -e /dev/kvm ] || { echo "no /dev/kvm"; return 1; }
  local out
  out="$(run_guest kvm none 20 'echo kvm-ok' 2>/dev/null || true)"
  [ "$out" = "kvm-ok" ] || { echo "/dev/kvm exists but a guest did not boot under it"; return 1; }
  echo "kvm boots"
}

# ", qemu CPU N ms": user+system time of the QEMU process (its -pidfile is $1), the figure that a
# loaded machine does not inflate the way it inflates the host clock.
qemu_cpu() {
  local q t
  q="$(cat "$1" 2>/dev/null)" || return 0
  t="$(awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$q/stat" 2>/dev/null)" || return 0
  [ -n "$t" ] && printf ', qemu CPU %s ms' "$t"
}

ns="" qpid="" run_dir=""
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null || true
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
  [ -n "$run_dir" ] && [ -z "${RINGLAB_VM_KEEP:-}" ] && rm -rf "$run_dir" || true
}

make_netns() {
  ns="rlvm$$"
  ip netns add "$ns" || die "cannot create network namespace $ns (root needed)"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip tuntap add dev rlvmtap0 mode tap || die "cannot create a tap device in $ns"
  # No IPv6 chatter (router solicitations, MLD) on the link: the guest sees only what the lab sends.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.rlvmtap0.disable_ipv6=1 || true
  ip netns exec "$ns" ip addr add 10.77.0.1/24 dev rlvmtap0
  ip netns exec "$ns" ip link set rlvmtap0 up
}

# run_guest ACCEL NIC TIMEOUT CMD: boots the image, runs CMD, prints its stdout (stderr to stderr),
# returns its exit status. Signals from the guest trigger the --on-signal commands.
run_guest() {
  local accel="$1" nic="$2" tmo="$3" cmd="$4" k
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/ringlab-vm.XXXXXX")"
  # One builder of build/vm at a time (two presets' tests, two users); the run keeps its own copy.
  mkdir -p "$vm_dir"
  exec 9> "$vm_dir/.lock"
  flock 9
  k="$(build_image)"
  cp "$vm_dir/initramfs.cpio" "$run_dir/base.cpio"
  exec 9>&-
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP
  # The command travels as a second cpio archive appended to the first: the kernel unpacks both.
  mkdir -p "$run_dir/extra/etc"
  printf '%s\n' "$cmd" > "$run_dir/extra/etc/ringlab-cmd"
  (cd "$run_dir/extra" && find . | cpio --quiet -o -H newc -R 0:0) > "$run_dir/extra.cpio"
  cat "$run_dir/base.cpio" "$run_dir/extra.cpio" > "$run_dir/initrd"
  rm -f "$run_dir/base.cpio"
  : > "$run_dir/out"; : > "$run_dir/err"; : > "$run_dir/ctl"
  local netargs=(-nic none) pre=()
  if [ "$nic" != none ]; then
    make_netns
    local model=virtio-net-pci
    [ "$nic" = e1000 ] && model=e1000
    netargs=(-netdev tap,id=n0,ifname=rlvmtap0,script=no,downscript=no -device "$model,netdev=n0,mac=52:54:00:77:00:02")
    pre=(ip netns exec "$ns")
  fi
  local accel_args=(-accel tcg -cpu max)
  [ "$accel" = kvm ] && accel_args=(-accel kvm -cpu host)
  local t0; t0="$(date +%s%N)"
  ${pre[@]+"${pre[@]}"} timeout -s KILL "$tmo" "$(qemu_bin)" "${accel_args[@]}" -m 512 -smp 1 -nodefaults -no-reboot \
    -display none -pidfile "$run_dir/qemu.pid" -kernel "$(boot_image "$k")" -initrd "$run_dir/initrd" -append "$kernel_args ringlab.nic=$nic" \
    -serial "file:$run_dir/console" -serial "file:$run_dir/out" -serial "file:$run_dir/err" \
    -serial "file:$run_dir/ctl" "${netargs[@]}" </dev/null >"$run_dir/qemu.log" 2>&1 &
  qpid=$!
  local seen_ready=0 handled="" line name
  while kill -0 "$qpid" 2>/dev/null; do
    if [ "$seen_ready" = 0 ] && grep -q '^RINGLAB-READY' "$run_dir/ctl"; then
      seen_ready=1
      local t1; t1="$(date +%s%N)"
      log "boot to prompt: $(( (t1 - t0) / 1000000 )) ms on the host clock, guest uptime $(awk '/^RINGLAB-READY/ {print $2; exit}' "$run_dir/ctl") s ($accel, nic $nic)$(qemu_cpu "$run_dir/qemu.pid")"
    fi
    while read -r line; do
      name="${line#RINGLAB-SIGNAL }"
      case " $handled " in *" $name "*) continue ;; esac
      handled="$handled $name"
      local c="${on_signal[$name]-}"
      if [ -n "$c" ]; then
        RINGLAB_VM_TAP=rlvmtap0 ${pre[@]+"${pre[@]}"} sh -c "$c" >&2 || log "on-signal $name: '$c' failed"
      fi
      echo "$name" >> "$run_dir/acked"
    done < <(grep '^RINGLAB-SIGNAL ' "$run_dir/ctl" || true)
    grep -q '^RINGLAB-EXIT' "$run_dir/ctl" && break
    sleep 0.05
  done
  wait "$qpid" 2>/dev/null || true
  qpid=""
  # A short command on a starved host: the guest reached its prompt, ran and powered off between two
  # polls. The host clock then bounds the boot from above; QEMU's CPU time is gone with it.
  if [ "$seen_ready" = 0 ] && grep -q '^RINGLAB-READY' "$run_dir/ctl"; then
    log "boot to prompt: $(( ($(date +%s%N) - t0) / 1000000 )) ms on the host clock (at most), guest uptime $(awk '/^RINGLAB-READY/ {print $2; exit}' "$run_dir/ctl") s ($accel, nic $nic)"
  fi
  cat "$run_dir/out"
  cat "$run_dir/err" >&2
  local rc
  rc="$(awk '/^RINGLAB-EXIT/ {print $2; exit}' "$run_dir/ctl")"
  if [ -z "$rc" ]; then
    log "the guest ended without an exit status (timeout ${tmo}s or a crash); last console lines:"
    tail -n 15 "$run_dir/console" >&2
    tail -n 5 "$run_dir/qemu.log" >&2
    return 124
  fi
  return "$rc"
}

declare -A on_signal=()
bins=() files=()
nic=virtio accel=tcg tmo=180
parse_run_opts() {
  rest=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --nic) nic="$2"; shift 2 ;;
      --accel) accel="$2"; shift 2 ;;
      --timeout) tmo="$2"; shift 2 ;;
      --bin) [ -f "$2" ] || usage "--bin $2: no such file"; bins+=("$(readlink -f "$2")"); shift 2 ;;
      --file) [ -f "$2" ] || usage "--file $2: no such file"; files+=("$(readlink -f "$2")"); shift 2 ;;
      --on-signal) on_signal["${2%%=*}"]="${2#*=}"; shift 2 ;;
      --) shift; rest=("$@"); break ;;
      *) usage "unknown option '$1' (ringlab vm --help)" ;;
    esac
  done
  case "$nic" in virtio|e1000|none) ;; *) usage "--nic: '$nic' is not virtio, e1000 or none" ;; esac
  case "$accel" in tcg|kvm|auto) ;; *) usage "--accel: '$accel' is not tcg, kvm or auto" ;; esac
  [[ "$tmo" =~ ^[0-9]+$ ]] || usage "--timeout: '$tmo' is not a number of seconds"
  if [ "$accel" = kvm ] && [ ! -w /dev/kvm ]; then
    usage "--accel kvm: /dev/kvm is missing or not writable here (ringlab vm probe says what works; --accel auto falls back to tcg)"
  fi
}

resolve_accel() {
  if [ "$accel" = auto ]; then
    if probe_kvm >/dev/null 2>&1; then accel=kvm; else accel=tcg; fi
  fi
}

sub="${1:-help}"; [ $# -gt 0 ] && shift
case "$sub" in
  probe)
    [ $# -eq 0 ] || usage "probe takes no arguments: '$*'"
    why="$(missing_reason)"
    if [ -n "$why" ]; then echo "vm: unavailable: $why"; exit $skip; fi
    echo "vm: qemu $("$(qemu_bin)" --version | head -1 | awk '{print $4}'), kernel $(basename "$(kernel_dir)")"
    echo "vm: kvm: $(probe_kvm || true)"
    ;;
  image)
    parse_run_opts "$@"
    mkdir -p "$vm_dir"; exec 9> "$vm_dir/.lock"; flock 9
    k="$(build_image)"
    echo "kernel: $k/vmlinuz"
    echo "initramfs: $vm_dir/initramfs.cpio"
    ;;
  run)
    parse_run_opts "$@"
    [ ${#rest[@]} -gt 0 ] || usage "run: no command (ringlab vm run -- CMD...)"
    resolve_accel
    printf -v cmdline '%q ' "${rest[@]}"
    [ ${#rest[@]} -eq 1 ] && cmdline="${rest[0]}"   # one word: a shell command line, as `sh -c` takes it
    set +e; run_guest "$accel" "$nic" "$tmo" "$cmdline"; rc=$?; set -e
    exit $rc
    ;;
  shell)
    parse_run_opts "$@"
    resolve_accel
    k="$(build_image)"
    trap cleanup EXIT; trap 'exit 130' INT TERM HUP; make_netns
    model=virtio-net-pci; [ "$nic" = e1000 ] && model=e1000
    netargs=(-nic none)
    [ "$nic" != none ] && netargs=(-netdev tap,id=n0,ifname=rlvmtap0,script=no,downscript=no -device "$model,netdev=n0")
    accel_args=(-accel tcg -cpu max); [ "$accel" = kvm ] && accel_args=(-accel kvm -cpu host)
    log "host side: ip netns exec $ns ... (tap rlvmtap0 10.77.0.1, guest 10.77.0.2); Ctrl-A X quits"
    ip netns exec "$ns" "$(qemu_bin)" "${accel_args[@]}" -m 512 -smp 1 -nodefaults -no-reboot -display none \
      -kernel "$(boot_image "$k")" -initrd "$vm_dir/initramfs.cpio" -serial mon:stdio \
      -append "$kernel_args ringlab.nic=$nic" "${netargs[@]}"
    ;;
  probe-kvm) probe_kvm ;;
  help|-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) usage "unknown subcommand '$sub' (probe, image, run, shell)" ;;
esac
