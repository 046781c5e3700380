#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Secrets off the stack (docs/DESIGN.md): builds every object of the tree
# with gcc's -fstack-usage and -fcallgraph-info=su into a build directory of
# its own, then scripts/stack-depth.py fails on any frame over 16 KiB and on
# any stack wipe that does not cover the deepest chain of frames below it.
# Usage: scripts/check-stack.sh [BUILD_DIR]   (default build-stack)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-stack}
cc=${STACK_CC:-gcc}
command -v "$cc" >/dev/null || {
	echo "stack: $cc not found (the check reads gcc's -fstack-usage output)" >&2
	exit 1
}
# -O2 as in the default build: frame sizes depend on the optimisation.
make -s -C "$top" BUILD="$out" CC="$cc" OPT="-O2 -g -fstack-usage -fcallgraph-info=su" \
	"$out/lethefs" >/dev/null || {
	echo "stack: building into $out failed" >&2
	exit 1
}
exec python3 "$top/scripts/stack-depth.py" "$out" "$top" --max-frame 16384
