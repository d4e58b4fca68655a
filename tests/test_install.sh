#!/bin/sh
# Installs the build into a scratch prefix, moves the prefix, and builds and runs
# tests/consumer/consumer.c against it: by find_package(fa), shared and static,
# and by pkg-config. Usage: test_install.sh CMAKE CC BUILD_DIR SOURCE_DIR LIBDIR
set -eu
cmake=$1 cc=$2 build=$3 src=$4 libdir=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FA_NO_DRIVER=1 FA_TUNING_DB="$tmp/none.db"

"$cmake" --install "$build" --prefix "$tmp/staged" >/dev/null
# The package must not remember where it was installed.
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
for f in include/fa.h "$libdir/libfa-runtime.so.0" "$libdir/libfa-runtime.a" share/fa/tuning.db \
         "$libdir/cmake/fa/faConfig.cmake" "$libdir/pkgconfig/fa.pc" bin/fa-tune; do
  [ -e "$prefix/$f" ] || { echo "FAILED: $f was not installed"; exit 1; }
done

echo "find_package(fa):"
"$cmake" -S "$src/tests/consumer" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; exit 1; }
"$cmake" --build "$tmp/b" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
"$tmp/b/consumer" "$prefix"
"$tmp/b/consumer_static"   # a static program has no library path to find the shipped db by

# Before 1.0 another minor version is refused (docs/ABI.md).
if "$cmake" -S "$src/tests/consumer" -B "$tmp/b2" -DCMAKE_PREFIX_PATH="$prefix" -DFA_WANT=0.2 >"$tmp/log" 2>&1; then
  echo "FAILED: find_package(fa 0.2) accepted fa $(sed -n 's/^Version: //p' "$prefix/$libdir/pkgconfig/fa.pc")"; exit 1
fi
echo "ok: find_package(fa 0.2) is refused"

echo "pkg-config fa:"
if command -v pkg-config >/dev/null 2>&1; then
  export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
  [ "$(pkg-config --modversion fa)" = "$(sed -n 's/^Version: //p' "$prefix/$libdir/pkgconfig/fa.pc")" ]
  pkg-config --static --libs fa | grep -q -- -llua5.4
  # shellcheck disable=SC2046
  "$cc" "$src/tests/consumer/consumer.c" -o "$tmp/pc" $(pkg-config --cflags --libs fa) -Wl,-rpath,"$prefix/$libdir"
  "$tmp/pc" "$prefix"
else
  echo "pkg-config is not installed (.ci/deps installs pkgconf): not checked"
fi
echo "1 passed, 0 failed"
