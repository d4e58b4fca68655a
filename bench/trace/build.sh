#!/usr/bin/env bash
# build/fa-tune-trace: this tree with bench/trace/patch_trace.py applied to the
# sm90 forward (SM 0's work items timed with clock, printed as TRACE lines).
set -eu
src=/tmp/fa-alt-trace
rm -rf "$src" && mkdir -p "$src"
tar cf - --exclude=./build --exclude=./.peers --exclude=./.git . | tar xf - -C "$src"
python3 bench/trace/patch_trace.py "$src/templates/fwd_sm90.cu"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$src/build" --target fa-tune -j2 > /dev/null
cp "$src/build/fa-tune" build/fa-tune-trace
echo build/fa-tune-trace
