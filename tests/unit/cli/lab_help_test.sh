#!/usr/bin/env bash
# ./lab COMMAND --help prints that command's help at once: no package check, no cmake, no build.
# A copy of ./lab runs in an empty directory with cmake, ctest, dpkg-query and apt-get on PATH
# replaced by scripts that write down being called and fail: any call (the install check or the
# build a command starts with) fails the test. The real ones would build a preset first, or as root
# install packages: what a help must not do.
# Usage: lab_help_test.sh LAB RINGLAB
set -euo pipefail
lab_src="$1" ringlab="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cp "$lab_src" "$dir/lab"
mkdir "$dir/bin"
for t in cmake ctest dpkg-query apt-get debconf-set-selections; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/called"\nexit 1\n' "$t" "$dir" > "$dir/bin/$t"
  chmod +x "$dir/bin/$t"
done
export PATH="$dir/bin:$PATH"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs ./lab ARGS; sets out, err, rc.
run_lab() {
  rc=0
  out="$(cd "$dir" && ./lab "$@" 2> "$dir/err")" || rc=$?
  err="$(cat "$dir/err")"
}

# Every line of a command's help is one of its own entries ("  ./lab CMD ...") or their continuation.
expect_command_help() {
  local c="$1" entries="$2"; shift 2
  run_lab "$@"
  [ "$rc" -eq 0 ] || fail "./lab $* exit $rc: $err"
  [ -z "$err" ] || fail "./lab $*: stderr: $err"
  local n
  n="$(grep -c "^  \./lab $c\( \|$\)" <<< "$out" || true)"
  [ "$n" -eq "$entries" ] || fail "./lab $*: $n entries for '$c', want $entries:"$'\n'"$out"
  if grep -v "^  \./lab $c\( \|$\)" <<< "$out" | grep -q "^  \./lab "; then
    fail "./lab $*: another command's entry:"$'\n'"$out"
  fi
}

# ./lab fuzz refuses bad arguments before it builds (the stand-in cmake would write down the build).
mkdir -p "$dir/tests/fuzz"
cp "$(dirname "$lab_src")/tests/fuzz/campaign.py" "$dir/tests/fuzz/"
for bad in "--runs abc" "--runs 0" "--time -1"; do
  run_lab fuzz $bad
  [ "$rc" -eq 2 ] || fail "./lab fuzz $bad: exit $rc, want 2: $err"
  grep -q -- "--runs\|--time" <<< "$err" || fail "./lab fuzz $bad: the error does not name the option: $err"
  [ ! -e "$dir/called" ] || fail "./lab fuzz $bad ran $(cat "$dir/called") before refusing its arguments"
done
# A configured fuzz preset (its manifests written, nothing built): a misspelt --target is refused
# by name before the build.
mkdir -p "$dir/build/fuzz/fuzz_targets"
touch "$dir/build/fuzz/CMakeCache.txt"
printf 'binary=%s\n' "$dir/build/fuzz/fuzz_arp" > "$dir/build/fuzz/fuzz_targets/fuzz_arp.txt"
run_lab fuzz --target fuzz_arpp --runs 10
[ "$rc" -eq 2 ] || fail "./lab fuzz --target fuzz_arpp: exit $rc, want 2: $err"
grep -q "unknown target fuzz_arpp; targets: fuzz_arp" <<< "$err" || fail "./lab fuzz --target fuzz_arpp: $err"
[ ! -e "$dir/called" ] || fail "./lab fuzz --target fuzz_arpp ran $(cat "$dir/called") before refusing it"
# --list needs the manifests only: it names the targets and builds nothing.
run_lab fuzz --list
[ "$rc" -eq 0 ] || fail "./lab fuzz --list: exit $rc: $err"
[ "$out" = "fuzz_arp" ] || fail "./lab fuzz --list printed '$out', want fuzz_arp"
[ ! -e "$dir/called" ] || fail "./lab fuzz --list ran $(cat "$dir/called"): it should build nothing"
rm -rf "$dir/build"

expect_command_help bench 3 bench --help
grep -q -- "--quick" <<< "$out" || fail "bench --help lacks --quick: $out"
expect_command_help bench 3 bench --quick -h
expect_command_help build 1 build --help
expect_command_help rr 1 rr --help
expect_command_help test 2 test --help
grep -q "^Extra arguments after 'test' go to ctest" <<< "$out" || fail "test --help lacks the ctest note: $out"
expect_command_help test 2 test --preset asan --help

# demo: its lab line, then ringlab demo's options when the binary is built (here: not yet).
expect_command_help demo 1 demo --help
[ "$(tail -n 1 <<< "$out")" = "ringlab demo --help lists its options once built (./lab build)." ] ||
  fail "demo --help without a build: $out"
mkdir -p "$dir/build/default/tools"
ln -s "$ringlab" "$dir/build/default/tools/ringlab"
expect_command_help demo 1 demo --help
grep -q "^usage: ringlab demo " <<< "$out" || fail "demo --help with a build lacks ringlab demo's usage: $out"

# The whole help, and the refusals, are as before.
run_lab help
[ "$rc" -eq 0 ] && [ "$(head -n 1 <<< "$out")" = "ringlab's lab script. All commands install missing Debian packages first (as root), then build;" ] ||
  fail "./lab help: exit $rc: $out"
run_lab nosuch --help
[ "$rc" -eq 2 ] && [ "$err" = "[lab] unknown command 'nosuch' (try ./lab help)" ] || fail "./lab nosuch --help: exit $rc: $err"
[ ! -f "$dir/called" ] || fail "a help installed or built: $(cat "$dir/called")"
# rr: a --help after the command to record belongs to that command, not to ./lab: rr goes on (its
# install check, then its build; here the stand-ins fail it).
run_lab rr ringlab demo --help
[ -f "$dir/called" ] && grep -q "^dpkg-query\|^cmake" "$dir/called" || fail "./lab rr CMD --help did not go on to record"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: ./lab COMMAND --help printed at once for bench, build, rr, test, demo (no install check, no build)"
