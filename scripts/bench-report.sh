# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The tables scripts/bench.sh prints at the end (bench_report), from the
# "key value" lines its children wrote to $RES/FS.tsv and $RES/FS.errors:
# figures, ratios of lethefs to the others, several clients at once, FUSE
# requests per tree entry, errors and checks. Sourced by bench.sh (FS_LIST,
# FAILED, RES, BACK_FS, sel, ...); never run on its own. bench_report's
# status is bench.sh's: non-zero when a filesystem failed to run.

get() { # fs key
	[[ -f $RES/$1.tsv ]] || return 0
	awk -v k="$2" '$1 == k { v = $2 } END { if (v != "") print v }' "$RES/$1.tsv"
}

isbad() { [[ -n $(get "$1" "${2}_bad") ]]; }

val() { # fs key -> value or "-", with "*" when errors happened
	local v
	v=$(get "$1" "$2")
	if isbad "$1" "$2"; then v="${v}*"; fi
	echo "${v:--}"
}

mib() { # fs key (kB) -> MiB
	local v
	v=$(get "$1" "$2")
	if [[ -n $v ]]; then
		awk -v v="$v" 'BEGIN { printf "%.0f", v / 1024 }'
	else
		echo "-"
	fi
}

ratio() { # a b -> a/b
	[[ -n $1 && -n $2 ]] || {
		echo "-"
		return
	}
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}

scaling() { # fs -> "4-job scaling / 2-extract scaling"
	local f=$1 one four e1 e2
	one=$(get "$f" randrw1_iops) four=$(get "$f" randrw4_iops)
	e1=$(get "$f" extract_s) e2=$(get "$f" extract2_s)
	echo "$(ratio "$four" "$one") | $( [[ -n $e1 && -n $e2 ]] && awk -v a="$e1" -v b="$e2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", 2 * a / b }' || echo -)"
}

bench_report() {
	echo
	echo "### Figures"
	echo
	echo "| filesystem | seq write MB/s | seq read MB/s | rand read 4k IOPS | rand write 4k IOPS | tar -xf +sync s | ls -lR s | rm -rf +sync s | entries | daemon VmHWM after extract MiB | VmHWM at end MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for fs in "${FS_LIST[@]}"; do
		name=$fs
		case $fs in
		lethefs) name="lethefs (xchacha20poly1305)" ;;
		lethefs-aes) name="lethefs (aes256gcm)" ;;
		plain) name="plain $BACK_FS (no FUSE)" ;;
		passthrough) name="passthrough_ll (no crypto)" ;;
		passthrough-hl) name="passthrough, high-level (no crypto)" ;;
		esac
		if [[ " ${FAILED[*]} " == *" $fs "* ]]; then name="$name FAILED"; fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
			"$(val "$fs" write_mbs)" "$(val "$fs" read_mbs)" "$(val "$fs" randread_iops)" \
			"$(val "$fs" randwrite_iops)" "$(val "$fs" extract_s)" "$(val "$fs" ls_s)" \
			"$(val "$fs" rm_s)" "$(val "$fs" entries)" "$(mib "$fs" hwm_kb)" "$(mib "$fs" hwm_end_kb)"
	done

	for l in lethefs lethefs-aes; do
		sel "$l" || continue
		OTHERS=()
		for o in gocryptfs securefs passthrough passthrough-hl plain; do
			if sel "$o"; then OTHERS+=("$o"); fi
		done
		((${#OTHERS[@]})) || continue
		echo
		echo "### Ratios $l / other"
		echo
		hdr="| metric | better |"
		sep="|---|---|"
		for o in "${OTHERS[@]}"; do
			hdr+=" $l/$o |"
			sep+="---:|"
		done
		echo "$hdr"
		echo "$sep"
		for m in "write_mbs:seq write MB/s:higher" "read_mbs:seq read MB/s:higher" \
			"randread_iops:rand read 4k IOPS:higher" "randwrite_iops:rand write 4k IOPS:higher" \
			"extract_s:tar -xf +sync time:lower" "ls_s:ls -lR time:lower" "rm_s:rm -rf +sync time:lower" \
			"hwm_kb:daemon VmHWM after extract:lower"; do
			IFS=: read -r key label better <<<"$m"
			line="| $label | $better is better for lethefs |"
			for o in "${OTHERS[@]}"; do
				r=$(ratio "$(get "$l" "$key")" "$(get "$o" "$key")")
				if isbad "$l" "$key" || isbad "$o" "$key"; then r="$r*"; fi
				line+=" $r |"
			done
			echo "$line"
		done
	done

	if [[ ${BENCH_MULTI:-1} == 1 ]]; then
		echo
		echo "### Several clients at once"
		echo
		echo "fio 4 KiB randrw (psync, ${BENCH_FIO_SIZE} in all, ${BENCH_FIO_RUNTIME}s) by 1 and by 4 jobs;"
		echo "two tar -xf of the tree side by side (+sync). Scaling: IOPS 4 jobs / 1 job;"
		echo "2 × one extract's time / the two extracts' time (above 1: the clients ran in parallel)."
		echo
		echo "| filesystem | randrw IOPS 1 job | randrw IOPS 4 jobs | two extracts s | 4-job scaling | 2-extract scaling |"
		echo "|---|---:|---:|---:|---:|---:|"
		for fs in "${FS_LIST[@]}"; do
			printf '| %s | %s | %s | %s | %s |\n' "$fs" "$(val "$fs" randrw1_iops)" \
				"$(val "$fs" randrw4_iops)" "$(val "$fs" extract2_s)" "$(scaling "$fs")"
		done
		for l in lethefs lethefs-aes; do
			sel "$l" || continue
			echo
			line="| $l / other |"
			hdr="| ratio |"
			sep="|---|"
			for o in gocryptfs securefs passthrough passthrough-hl plain; do
				sel "$o" || continue
				hdr+=" IOPS 4 jobs vs $o (higher better) | two extracts vs $o (lower better) |"
				sep+="---:|---:|"
				line+=" $(ratio "$(get "$l" randrw4_iops)" "$(get "$o" randrw4_iops)") | $(ratio "$(get "$l" extract2_s)" "$(get "$o" extract2_s)") |"
			done
			echo "$hdr"
			echo "$sep"
			echo "$line"
		done
	fi

	for l in lethefs lethefs-aes; do
		sel "$l" || continue
		[[ -n $(get "$l" extract_req) ]] || continue
		echo
		echo "### FUSE requests per tree entry, $l (status' fuse_requests, $(cat "$RES/tree.count") entries)"
		echo
		echo "| workload | requests per entry | busiest operations per entry |"
		echo "|---|---:|---|"
		echo "| tar -xf +sync | $(get "$l" extract_req) | $(get "$l" extract_req_ops | sed 's/=/ /g; s/,/, /g') |"
		echo "| ls -lR | $(get "$l" ls_req) | $(get "$l" ls_req_ops | sed 's/=/ /g; s/,/, /g') |"
		echo "| rm -rf +sync | $(get "$l" rm_req) | $(get "$l" rm_req_ops | sed 's/=/ /g; s/,/, /g') |"
	done

	if grep -q '_bad ' "$RES"/*.tsv 2>/dev/null; then
		echo
		echo "\* measured while errors happened (see below): not a valid comparison."
	fi
	echo
	echo "### Errors and checks"
	any=0
	for fs in "${FS_LIST[@]}"; do
		v=$(get "$fs" verified)
		if [[ -n $v ]]; then echo "- $fs: tar -d verification: $v"; fi
		if [[ -s $RES/$fs.errors ]]; then
			any=1
			echo "- $fs:"
			sed 's/^/    /' "$RES/$fs.errors"
		fi
	done
	if [[ $any == 0 && ${#FAILED[@]} == 0 ]]; then
		echo "- none: every tar, ls and rm exited 0 with nothing on stderr"
	fi
	if ((${#FAILED[@]})); then echo "- failed to run: ${FAILED[*]}"; fi
	echo
	echo "(raw results: $RES)"
	((${#FAILED[@]} == 0))
}
