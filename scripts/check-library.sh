#!/usr/bin/env bash
# Checks one build of libwause.so:
#  1. its dynamic symbol table defines wause_* and nothing else;
#  2. it needs no Swift runtime library (the runtime is linked in statically);
#  3. a C program linked against it passes the C API test in a mount namespace where the Swift
#     toolchain directory is an empty tmpfs, i.e. on a machine without Swift.
#   scripts/check-library.sh path/to/libwause.so TOOLCHAIN_DIR
set -euo pipefail
library=$(readlink -f "$1")
toolchain=$2
root=$(cd "$(dirname "$0")/.." && pwd)

foreign=$(nm -D --defined-only "$library" | awk '{print $NF}' | grep -v '^wause_' || true)
if [ -n "$foreign" ]; then
  echo "check-library: $library exports symbols other than wause_*:"; echo "$foreign" | head -20; exit 1
fi
exported=$(nm -D --defined-only "$library" | awk '{print $NF}' | sort | tr '\n' ' ')
for required in wause_version wause_client_create wause_client_close wause_client_destroy wause_call wause_send wause_receive \
                wause_set_callback wause_events wause_free wause_catalogue wause_result_name; do
  case " $exported " in *" $required "*) ;; *) echo "check-library: $required is not exported"; exit 1;; esac
done

if readelf -d "$library" | grep NEEDED | grep -qi swift; then
  echo "check-library: $library needs a Swift runtime library:"; readelf -d "$library" | grep NEEDED; exit 1
fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$library" "$work/libwause.so"
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror -I"$root/include" "$root/tests/c/test_capi.c" \
   -L"$work" -lwause -lpthread -Wl,-rpath,"$work" -o "$work/test_capi"
mkdir "$work/data"
if [ -d "$toolchain" ]; then
  unshare -m sh -c "mount -t tmpfs none '$toolchain' && '$work/test_capi' '$work/data'"
else
  "$work/test_capi" "$work/data"
fi
echo "check-library: $library: exports only wause_* ($(echo "$exported" | wc -w) symbols), no Swift runtime needed, C API test passed without $toolchain"
