#!/bin/sh
# Builds the Node addon with the system C compiler: no node-gyp, no npm packages, works offline.
#
#   sh build.sh                                  # uses ../../.build/debug/libwause.so
#   WAUSE_LIBRARY=/path/to/libwause.so sh build.sh
#
# Output (under build/ next to this script):
#   build/libwause.so  a copy of the engine library
#   build/wause.node   the addon, linked with RUNPATH $ORIGIN so it finds that copy
# The copy makes build/ self-contained: it keeps working while the library in .build/ is rebuilt,
# and it can be moved or packaged as one directory. LD_LIBRARY_PATH still takes precedence over
# RUNPATH, so a different libwause.so can be tried without rebuilding.
# Environment: CC (default gcc), NODE_INCLUDE (default /usr/include/node), CFLAGS (extra flags).
set -eu

script_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
repo_root=$(CDPATH= cd -- "$script_dir/../.." && pwd)
library=${WAUSE_LIBRARY:-$script_dir/../../.build/debug/libwause.so}
node_include=${NODE_INCLUDE:-/usr/include/node}
cc=${CC:-gcc}
out_dir=$script_dir/build

if [ ! -f "$library" ]; then
    echo "build.sh: libwause.so not found at $library (set WAUSE_LIBRARY)" >&2
    exit 1
fi
if [ ! -f "$node_include/node_api.h" ]; then
    echo "build.sh: node_api.h not found in $node_include (set NODE_INCLUDE)" >&2
    exit 1
fi

mkdir -p "$out_dir"

# The library may be rewritten by a concurrent build; copy to a temporary name and rename, so
# build/libwause.so is never seen half-written. One retry covers a copy that raced a rewrite.
copy_library() {
    cp "$library" "$out_dir/libwause.so.tmp" && mv -f "$out_dir/libwause.so.tmp" "$out_dir/libwause.so"
}
copy_library || { sleep 2; copy_library; }

# The napi_* symbols resolve from the node binary at load time, so no -z defs here.
# -z nodelete: node dlclose()s an addon when the last worker thread that loaded it exits. That
# would unmap libwause.so, whose Swift runtime leaves thread-exit destructors (TLS keys) behind,
# and the exiting thread would then jump into unmapped code. Pinning the addon pins the library.
# shellcheck disable=SC2086  # CFLAGS is a list of flags
"$cc" -shared -fPIC -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra ${CFLAGS:-} \
    -I"$node_include" -I"$repo_root/include" \
    "$script_dir/src/wause_addon.c" \
    -L"$out_dir" -lwause -lm \
    -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' -Wl,-z,nodelete \
    -o "$out_dir/wause.node.tmp"
mv -f "$out_dir/wause.node.tmp" "$out_dir/wause.node"
echo "built $out_dir/wause.node (library copied from $library)"
