#!/bin/sh
# check_svg.sh DOT SOURCE.dot OUT.svg: renders SOURCE with Graphviz and checks the SVG (docs/CMakeLists.txt).
# - dot succeeds with no warning, and the SVG is well-formed XML (Debian's python3 parses it);
# - a diagram with a graph label shows it; one laid out top to bottom (rankdir=TB) is <= 1000 pt wide;
# - every term of its "// must show: A; B; ..." line (what issue 14 asks each diagram to show) is in the
#   SVG's text, so a term cannot silently drop out of a label.
set -eu
dot="$1" src="$2" out="$3"
mkdir -p "$(dirname "$out")"
"$dot" -Tsvg "$src" -o "$out" 2> "$out.err" || { cat "$out.err"; echo "FAIL: dot could not render $src"; exit 1; }
[ ! -s "$out.err" ] || { cat "$out.err"; echo "FAIL: dot warned on $src"; exit 1; }
/usr/bin/python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$out" || { echo "FAIL: $out is not XML"; exit 1; }
# Graphviz escapes "<", ">", "&" and "-" in SVG text.
svg_text() { printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/-/\&#45;/g'; }
title="$(sed -n 's/.*label="\([^"]*\)".*/\1/p' "$src" | head -1)"
if grep -q 'labelloc=t' "$src"; then
  want="$(svg_text "$title")"
  grep -qF -- "$want" "$out" || { echo "FAIL: $out lacks its title '$title'"; exit 1; }
fi
must="$(sed -n 's|^// must show: \(.*\)   (.*|\1|p' "$src")"
if [ -n "$must" ]; then
  n=0
  IFS=';'
  for term in $must; do
    term="$(printf '%s' "$term" | sed 's/^ *//; s/ *$//')"
    grep -qF -- "$(svg_text "$term")" "$out" || { echo "FAIL: $out does not show '$term' (its // must show: line)"; exit 1; }
    n=$((n + 1))
  done
  unset IFS
  echo "$src: shows all $n terms of its must-show line"
fi
if grep -q 'rankdir=TB' "$src"; then
  w="$(sed -n 's/.*<svg width="\([0-9]*\)pt".*/\1/p' "$out" | head -1)"
  [ -n "$w" ] && [ "$w" -le 1000 ] || { echo "FAIL: $src is ${w:-?} pt wide (> 1000: too wide to read in a browser)"; exit 1; }
  echo "$src: $w pt wide"
fi
echo PASS
