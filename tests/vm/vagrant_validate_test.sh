#!/usr/bin/env bash
# `vagrant validate` on the top-level Vagrantfile (offline: no box is fetched, no VM started), for the
# default provider and with every provider's block ignored; and a copy with a misspelt libvirt setting
# must be refused, so the check can fail. Skips (77) where vagrant is not installed.
#   vagrant_validate_test.sh SOURCE_DIR
set -uo pipefail
src="$1"
command -v vagrant >/dev/null || { echo "SKIP: vagrant is not installed (apt-get install vagrant vagrant-libvirt)"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_HOME="$tmp/home" VAGRANT_DOTFILE_PATH="$tmp/dot"
fail() { echo "FAIL: $*"; cat "$tmp/log"; exit 1; }
validate() { (cd "$1" && timeout 120 vagrant validate "${@:2}") > "$tmp/log" 2>&1; }
validate "$src" --ignore-provider || fail "vagrant validate --ignore-provider"
grep -q 'Vagrantfile validated successfully' "$tmp/log" || fail "no success line"
if vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt; then
  VAGRANT_DEFAULT_PROVIDER=libvirt validate "$src" || fail "vagrant validate (libvirt provider)"
  mkdir "$tmp/bad"
  sed 's/lv.nic_model_type = "virtio"/lv.nic_modle_type = "virtio"/' "$src/Vagrantfile" > "$tmp/bad/Vagrantfile"
  grep -q nic_modle_type "$tmp/bad/Vagrantfile" || fail "could not make the misspelt copy"
  if VAGRANT_DEFAULT_PROVIDER=libvirt validate "$tmp/bad"; then fail "a misspelt libvirt setting was accepted"; fi
  grep -q 'nic_modle_type' "$tmp/log" || fail "the refusal does not name the setting"
  echo "libvirt provider: validated; a misspelt setting is refused"
else
  echo "vagrant-libvirt plugin not installed: provider blocks not checked"
fi
echo PASS
