#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The layer rule of the source tree (docs/DESIGN.md, "Rooms and layers"):
#
#  1. a file includes headers of its own room and of the rooms listed after
#     it only, never of a room listed before it (a higher layer);
#  2. no two modules include each other, directly or around a longer
#     circle (a module is a room's NAME.c with its NAME.h: x.c including
#     y.h and y.c including x.h is such a circle);
#  3. every directory holding C sources is a room of the list.
#
# Usage: scripts/check-layers.sh [TREE]   (default: this checkout)
# Prints every violation and exits 1 when there is one, else prints one
# summary line and exits 0.
set -u

# Top layer first. journal/ is the crash-safety room (it may not exist yet).
ROOMS="cli daemon rotation staging fs audit keymgmt journal cluster common"

top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || {
	echo "layers: cannot enter $top" >&2
	exit 1
}

rank() { # room -> its position in ROOMS (1 = top), or nothing
	i=1
	for r in $ROOMS; do
		[ "$r" = "$1" ] && {
			echo "$i"
			return
		}
		i=$((i + 1))
	done
}

bad=0
edges=$(mktemp) || exit 1
trap 'rm -f "$edges"' EXIT

# Rule 3: C sources outside the rooms (tests/ and build output excepted).
for f in $(find . -path ./tests -prune -o -path './build*' -prune -o -path ./.git -prune -o \
	\( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort); do
	room=${f%%/*}
	if [ "$room" = "$f" ] || [ -z "$(rank "$room")" ]; then
		echo "layers: $f is in no room of the layer order ($ROOMS)"
		bad=1
	fi
done

files=0
for room in $ROOMS; do
	[ -d "$room" ] || continue
	me=$(rank "$room")
	for f in "$room"/*.c "$room"/*.h; do
		[ -f "$f" ] || continue
		files=$((files + 1))
		mod=${f%.*}
		# Each quoted include, resolved against the file's directory.
		for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
			case $inc in
			../*/*) path=${inc#../} ;;
			*/*)
				echo "layers: $f: include \"$inc\" must name its room as ../ROOM/FILE"
				bad=1
				continue
				;;
			*) path=$room/$inc ;;
			esac
			to=${path%%/*}
			them=$(rank "$to")
			if [ -z "$them" ]; then
				echo "layers: $f includes \"$inc\", which is in no room"
				bad=1
			elif [ "$them" -lt "$me" ]; then
				echo "layers: $f ($room) includes \"$inc\" of the higher room $to"
				bad=1
			fi
			[ -f "$path" ] || {
				echo "layers: $f includes \"$inc\", which does not exist"
				bad=1
			}
			target=${path%.*}
			[ "$target" = "$mod" ] || echo "$mod $target" >>"$edges"
		done
	done
done

# Rule 2: tsort fails on a circle and names its members.
if ! loops=$(tsort "$edges" 2>&1 >/dev/null) || [ -n "$loops" ]; then
	echo "layers: modules include each other:"
	echo "$loops" | sed 's/^tsort: /  /'
	bad=1
fi

if [ "$bad" -ne 0 ]; then
	echo "layers: FAILED (order, top first: $ROOMS)"
	exit 1
fi
echo "layers: $files files in $(echo "$ROOMS" | wc -w) rooms, every include points down, no circles"
