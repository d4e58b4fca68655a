#!/usr/bin/env bash
# Builds build/fa-tune-NAME from this tree with Lua lines added to the end of
# gen/fa_space.lua (before its return): a twin of fa-tune whose space differs
# in one choice, for A/B runs in one device call (bench/variants_ab.py). With
# REV=<commit> the tree is that commit's (git archive), not the working tree's.
#   bench/build_alt.sh notma 'function S.sm90_tma_store(v) return false end'
#   REV=HEAD~1 bench/build_alt.sh prev ''
set -eu
name=$1 lua=$2
src=/tmp/fa-alt-$name
rm -rf "$src" && mkdir -p "$src"
if [ -n "${REV:-}" ]; then
  git archive "$REV" | tar xf - -C "$src"
else
  tar cf - --exclude=./build --exclude=./.peers --exclude=./.git . | tar xf - -C "$src"
fi
python3 - "$src/gen/fa_space.lua" "$lua" <<'P'
import sys
p, lua = sys.argv[1], sys.argv[2]
s = open(p).read()
i = s.rstrip().rfind("return S")
open(p, "w").write(s[:i] + "-- build_alt.sh\n" + lua + "\n\n" + s[i:])
P
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$src/build" --target fa-tune -j2 > /dev/null
cp "$src/build/fa-tune" "build/fa-tune-$name"
echo "build/fa-tune-$name"
