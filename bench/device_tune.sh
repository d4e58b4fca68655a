#!/usr/bin/env bash
# One device call: tune the default grid into a database (resumable: pass the
# previous database back in as .peers/../tune-in.db by carrying it), ship it.
# usage: OUT=dir bash bench/device_tune.sh MINUTES
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
db=/tmp/fa-user.db
[ -f .tune/user.db ] && cp .tune/user.db $db
./build/fa-tune --gpu auto --db $db --ship "$FINAL/tuning.db" --budget "${1:-8}" 2>&1 | tee "$FINAL/tune.txt" | grep -v "^\[" | tail -40
cp $db "$FINAL/user.db"
