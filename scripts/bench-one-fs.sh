# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034,SC2153 # checked through bench.sh: shellcheck -x
# The workloads of scripts/bench.sh on one filesystem (run_one, and its
# several-clients section multi_clients): sourced by bench.sh, whose
# settings and helpers (log, die, drop_caches, unmount, vm_kb, ...) they
# use; never run on its own.

# ---------------------------------------------------------------------------
# One filesystem, run as a child process (`bench.sh __one FS`) so that errexit
# works everywhere and a failing filesystem does not stop the others.
# Writes "key value" lines to $RES/FS.tsv and error text to $RES/FS.errors.
# ---------------------------------------------------------------------------
run_one() {
	local fs=$1
	local W="$BENCH_DIR/fs-$fs" back mnt dir comm="" pid="" out
	back="$W/back"
	mnt="$W/mnt"
	dir=$mnt # where the benchmark's files go
	local RESF="$RES/$fs.tsv" ERRF="$RES/$fs.errors"
	: >"$RESF"
	: >"$ERRF"
	record() { echo "$1 $2" >>"$RESF"; }
	bad() { record "${1}_bad" 1; } # a figure measured while errors happened
	err() {
		echo "$*" >>"$ERRF"
		log "$fs: $*"
	}
	T() { timeout -k 10 "$BENCH_OP_TIMEOUT" "$@"; }
	summarize() { # stderr file: count of each distinct error message
		echo "    by message:" >>"$ERRF"
		sed -E "s/'[^']*'/'...'/g; s/^(tar|rm|ls|find): [^:']+: /\1: /" "$1" |
			sort | uniq -c | sort -rn | head -n 8 |
			sed 's/^/      /' >>"$ERRF"
	}

	# lethefs only: its FUSE request counters (status' fuse_requests) as
	# "op N" lines, for requests per entry of a workload.
	requests() {
		[[ $comm == lethefs ]] || return 0
		"$BIN/lethefs" status --json "$mnt" 2>/dev/null | python3 -c '
import json, sys
for k, v in json.load(sys.stdin).get("fuse_requests", {}).items():
    print(k, v)' || true
	}
	per_entry() { # before after entries key: records key (all requests per
		# entry) and key_ops (the busiest operations per entry)
		[[ -s $1 && -s $2 ]] || return 0
		local ops
		record "$4" "$(awk -v n="$3" 'NR == FNR { b[$1] = $2; next } { t += $2 - b[$1] }
			END { printf "%.2f", t / n }' "$1" "$2")"
		ops=$(awk -v n="$3" 'NR == FNR { b[$1] = $2; next }
			$2 - b[$1] > 0 { printf "%s %.2f\n", $1, ($2 - b[$1]) / n }' "$1" "$2" |
			sort -k2,2 -rn | head -n 8 | awk '{ printf "%s%s %s", (NR > 1 ? "," : ""), $1, $2 }')
		record "${4}_ops" "${ops// /=}"
	}

	CHILD_MNT=$mnt
	trap 'unmount "$CHILD_MNT"' EXIT
	unmount "$mnt"
	rm -rf "$W"
	mkdir -p "$back" "$mnt"

	log "$fs: setting up"
	case $fs in
	plain)
		dir=$back
		;;
	passthrough)
		comm=passthrough_ll
		# passthrough_ll keeps an O_PATH descriptor open for every inode the
		# kernel knows, so a source tree needs far more than the usual
		# RLIMIT_NOFILE: raise it for this daemon (as far as allowed).
		local nofile
		nofile=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
		if (($(cat "$RES/tree.count") + 1000 > $(ulimit -Hn))) &&
			! (ulimit -Hn "$nofile") 2>/dev/null; then
			err "passthrough_ll holds a descriptor per inode: the tree's $(cat "$RES/tree.count") entries exceed the open-file limit of $(ulimit -Hn), which cannot be raised here (no CAP_SYS_RESOURCE); its tree figures will fail (use BENCH_TREE_FILES)"
		fi
		(
			ulimit -Hn "$nofile" 2>/dev/null || true
			ulimit -Sn "$(ulimit -Hn)"
			exec "$BIN/passthrough_ll" -o source="$back" "$mnt"
		) >"$W/mount.log" 2>&1 || die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	passthrough-hl)
		# libfuse's high-level, path-based example: no descriptor per inode,
		# but it mirrors / and cannot be pointed at a source directory.
		comm=passthrough
		dir=$mnt$back
		"$BIN/passthrough" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	gocryptfs)
		comm=gocryptfs
		gocryptfs -init -q -scryptn 10 -passfile "$PASSFILE" "$back" >"$W/init.log" 2>&1 ||
			die "$fs: init failed: $(cat "$W/init.log")"
		gocryptfs -q -passfile "$PASSFILE" "$back" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	securefs)
		comm=securefs
		local -a kdf=()
		if securefs create --help 2>&1 | grep -q -- '--pbkdf'; then
			kdf=(--pbkdf pkcs5-pbkdf2-hmac-sha256 --rounds 1)
		elif securefs create --help 2>&1 | grep -q -- '--rounds'; then
			kdf=(--rounds 1)
		fi
		securefs create "${kdf[@]}" --pass "$PASSWORD" "$back" >"$W/init.log" 2>&1 ||
			die "$fs: create failed: $(cat "$W/init.log")"
		securefs mount -b --log "$W/securefs.log" --pass "$PASSWORD" "$back" "$mnt" \
			>"$W/mount.log" 2>&1 || die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	lethefs | lethefs-aes)
		comm=lethefs
		local -a cipher=()
		if [[ $fs == lethefs-aes ]]; then cipher=(--cipher aes256gcm); fi
		"$BIN/lethefs" init --passfile "$PASSFILE" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "${cipher[@]}" \
			"$back" >"$W/init.log" 2>&1 || die "$fs: init failed: $(cat "$W/init.log")"
		"$BIN/lethefs" mount --passfile "$PASSFILE" "$back" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	*) die "unknown filesystem $fs" ;;
	esac

	if [[ $fs != plain ]]; then
		local i
		for i in $(seq 50); do
			mountpoint -q "$mnt" && break
			sleep 0.2
		done
		mountpoint -q "$mnt" || die "$fs: $mnt is not a mountpoint after mount"
		pid=$(daemon_pid "$comm" "$mnt") || pid=""
		[[ -n $pid ]] || log "$fs: warning: daemon PID not found, no memory figures"
	fi

	# 1. Sequential write and read.
	local f="$dir/seq.dat" t0 t1 rc bytes
	dd_mbs() { # dd stderr file -> MB/s (10^6 bytes/s, as dd prints)
		awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); b = $1 }
		     END { if (s > 0) printf "%.0f", b / s / 1e6 }' "$1"
	}
	log "$fs: sequential write ${BENCH_SIZE_MB} MiB"
	drop_caches
	if T dd if=/dev/zero of="$f" bs=1M count="$BENCH_SIZE_MB" conv=fsync 2>"$W/dd-write.log"; then
		record write_mbs "$(dd_mbs "$W/dd-write.log")"
	else
		err "seq write: dd failed: $(tail -n 3 "$W/dd-write.log")"
	fi
	log "$fs: sequential read"
	drop_caches
	if T dd if="$f" of=/dev/null bs=1M 2>"$W/dd-read.log"; then
		bytes=$(awk '/copied/ { print $1 }' "$W/dd-read.log")
		if [[ $bytes != $((BENCH_SIZE_MB * 1048576)) ]]; then
			err "seq read: read $bytes bytes, expected $((BENCH_SIZE_MB * 1048576))"
			bad read_mbs
		fi
		record read_mbs "$(dd_mbs "$W/dd-read.log")"
	else
		err "seq read: dd failed: $(tail -n 3 "$W/dd-read.log")"
	fi
	rm -f "$f" || err "rm seq.dat failed"

	# 2. fio random 4 KiB write, then read (fio lays the file out first,
	#    outside the measured runtime).
	fio_iops() { # rw field
		local rw=$1 field=$2 extra=()
		[[ $rw == randwrite ]] && extra=(--end_fsync=1)
		T fio --name="$rw" --filename="$dir/fio.dat" --size="$BENCH_FIO_SIZE" --rw="$rw" \
			--bs=4k --ioengine=psync --direct=0 --numjobs=1 --runtime="$BENCH_FIO_RUNTIME" \
			--time_based "${extra[@]}" --minimal >"$W/fio-$rw.log" 2>&1 || {
			err "fio $rw failed: $(tail -n 3 "$W/fio-$rw.log")"
			return 0
		}
		awk -F';' -v f="$field" '$1 == 3 { if ($5 != 0) e = $5; v = $f } END { if (e) exit 1; printf "%.0f", v }' \
			"$W/fio-$rw.log" || err "fio $rw reported an error: $(tail -n 3 "$W/fio-$rw.log")"
	}
	log "$fs: fio randwrite 4k (${BENCH_FIO_SIZE}, ${BENCH_FIO_RUNTIME}s)"
	out=$(fio_iops randwrite 49)
	if [[ -n $out ]]; then record randwrite_iops "$out"; fi
	log "$fs: fio randread 4k"
	drop_caches
	out=$(fio_iops randread 8)
	if [[ -n $out ]]; then record randread_iops "$out"; fi
	rm -f "$dir/fio.dat" || err "rm fio.dat failed"

	# 3. Source tree: extract (+ sync), ls -lR, rm -rf (+ sync).
	local top expect
	top=$(cat "$RES/tree.top")
	expect=$(cat "$RES/tree.count")
	log "$fs: tar -xf ($expect entries)"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T tar -xf "$TREE_TAR" -C "$dir" 2>"$W/tar.err" || rc=$?
	sync
	t1=$(now)
	requests >"$W/req1"
	record extract_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" extract_req
	if ((rc != 0)) || [[ -s $W/tar.err ]]; then
		err "tar -xf exited $rc, $(wc -l <"$W/tar.err") lines on stderr; first ones:"
		head -n 20 "$W/tar.err" >>"$ERRF"
		summarize "$W/tar.err"
		bad extract_s
	fi
	if [[ -n $pid ]]; then
		record hwm_kb "$(vm_kb "$pid" VmHWM)"
		record rss_kb "$(vm_kb "$pid" VmRSS)"
	fi
	local n
	n=$(find "$dir/$top" 2>>"$W/find.err" | wc -l) || true
	record entries "$n"
	if [[ $n != "$expect" ]]; then
		err "after extract: find counts $n entries, the archive has $expect"
		bad extract_s
		bad ls_s
		bad rm_s
	fi
	if [[ -s $W/find.err ]]; then
		err "find errors:"
		head -n 10 "$W/find.err" >>"$ERRF"
	fi

	if [[ " $BENCH_VERIFY " == *" $fs "* || $BENCH_VERIFY == all ]]; then
		log "$fs: verifying the tree with tar -d (not timed)"
		drop_caches
		rc=0
		T tar -df "$TREE_TAR" -C "$dir" >"$W/tar-d.out" 2>&1 || rc=$?
		if ((rc != 0)); then
			err "tar -d: $(wc -l <"$W/tar-d.out") differences (exit $rc); first ones:"
			head -n 20 "$W/tar-d.out" >>"$ERRF"
		fi
		record verified "$([[ $rc == 0 ]] && echo ok || echo DIFF)"
	fi

	log "$fs: ls -lR"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T ls -lR "$dir/$top" >"$W/ls.out" 2>"$W/ls.err" || rc=$?
	t1=$(now)
	requests >"$W/req1"
	record ls_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" ls_req
	if ((rc != 0)) || [[ -s $W/ls.err ]]; then
		err "ls -lR exited $rc, $(wc -l <"$W/ls.err") lines on stderr; first ones:"
		head -n 20 "$W/ls.err" >>"$ERRF"
		summarize "$W/ls.err"
		bad ls_s
	fi

	log "$fs: rm -rf"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T rm -rf "$dir/$top" 2>"$W/rm.err" || rc=$?
	sync
	t1=$(now)
	requests >"$W/req1"
	record rm_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" rm_req
	if ((rc != 0)) || [[ -s $W/rm.err ]]; then
		err "rm -rf exited $rc, $(wc -l <"$W/rm.err") lines on stderr; first ones:"
		head -n 20 "$W/rm.err" >>"$ERRF"
		summarize "$W/rm.err"
		bad rm_s
	fi
	if [[ -e $dir/$top ]]; then
		err "after rm -rf: $dir/$top still exists"
		bad rm_s
	fi
	if [[ -n $pid ]]; then record hwm_end_kb "$(vm_kb "$pid" VmHWM)"; fi

	# 4. Several clients at once: fio 4 KiB random read+write by one job,
	#    then by four jobs (a file each, the same total size), and two tar
	#    extracts side by side. Scaling = what the extra clients add
	#    (IOPS of 4 jobs / IOPS of 1; twice the single extract's time / the
	#    time of the two together): above 1, the filesystem used them.
	if [[ ${BENCH_MULTI:-1} == 1 ]]; then
		multi_clients
	fi

	if [[ $fs != plain ]]; then
		unmount "$mnt"
		if mountpoint -q "$mnt"; then err "could not unmount $mnt"; fi
		if [[ -n $pid ]]; then
			for i in $(seq 50); do
				[[ -d /proc/$pid ]] || break
				sleep 0.2
			done
			if [[ -d /proc/$pid ]]; then err "daemon $pid still running 10 s after unmount"; fi
		fi
	fi
	rm -rf "$W"
	log "$fs: done"
}

# Section 4 of run_one (same variables: fs dir W pid). fio's terse output:
# field 8 is the read IOPS, 49 the write IOPS (group_reporting: one line).
multi_clients() {
	local jobs out t0 t1 rc
	for jobs in 1 4; do
		log "$fs: fio randrw 4k, $jobs job(s)"
		drop_caches
		T fio --name=multi --directory="$dir" --rw=randrw \
			--size="$(($(numfmt --from=iec "$BENCH_FIO_SIZE") / jobs))" \
			--bs=4k --ioengine=psync --direct=0 --numjobs="$jobs" --group_reporting \
			--runtime="$BENCH_FIO_RUNTIME" --time_based --end_fsync=1 --minimal \
			>"$W/fio-multi-$jobs.log" 2>&1 || {
			err "fio randrw $jobs jobs failed: $(tail -n 3 "$W/fio-multi-$jobs.log")"
			continue
		}
		out=$(awk -F';' '$1 == 3 { if ($5 != 0) e = $5; v = $8 + $49 } END { if (e) exit 1; printf "%.0f", v }' \
			"$W/fio-multi-$jobs.log") || {
			err "fio randrw $jobs jobs reported an error: $(tail -n 3 "$W/fio-multi-$jobs.log")"
			continue
		}
		record "randrw${jobs}_iops" "$out"
	done
	rm -f "$dir"/multi.* || err "rm of fio's multi.* files failed"

	local expect
	expect=$(cat "$RES/tree.count")
	log "$fs: two tar -xf at once ($expect entries each)"
	mkdir -p "$dir/x1" "$dir/x2"
	drop_caches
	t0=$(now)
	rc=0
	T tar -xf "$TREE_TAR" -C "$dir/x1" 2>"$W/tar1.err" &
	local p1=$!
	T tar -xf "$TREE_TAR" -C "$dir/x2" 2>"$W/tar2.err" || rc=$?
	wait "$p1" || rc=$?
	sync
	t1=$(now)
	record extract2_s "$(secs "$t0" "$t1")"
	if ((rc != 0)) || [[ -s $W/tar1.err || -s $W/tar2.err ]]; then
		err "two tar -xf at once: exit $rc; stderr: $(head -n 5 "$W/tar1.err" "$W/tar2.err")"
		bad extract2_s
	fi
	local n1 n2
	n1=$(find "$dir/x1" -mindepth 1 | wc -l)
	n2=$(find "$dir/x2" -mindepth 1 | wc -l)
	if [[ $n1 != "$expect" || $n2 != "$expect" ]]; then
		err "two tar -xf at once: $n1 and $n2 entries, the archive has $expect"
		bad extract2_s
	fi
	rm -rf "$dir/x1" "$dir/x2" || err "rm -rf of the two extracts failed"
}
