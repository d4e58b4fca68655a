#!/bin/sh
# The shared library exports exactly the FA_API functions of fa.h (docs/ABI.md).
# Usage: test_exports.sh LIBRARY HEADER
set -eu
lib=$1 header=$2
command -v nm >/dev/null 2>&1 || { echo "SKIPPED: nm (binutils) is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -o 'FA_API [^(]*(' "$header" | sed -n -E 's/.*[ *](fa_[a-z0-9_]+)\($/\1/p' | sort -u >"$tmp/api"
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
if ! diff "$tmp/api" "$tmp/exported" >"$tmp/diff"; then
  echo "FAILED: exports differ from fa.h's FA_API functions (< fa.h only, > exported only):"
  cat "$tmp/diff"
  exit 1
fi
echo "$(wc -l <"$tmp/api") functions, each exported; nothing else is"
echo "1 passed, 0 failed"
