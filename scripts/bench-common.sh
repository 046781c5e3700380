# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shell functions the benchmark scripts share (sourced, never run).

# PID of the FUSE daemon serving MNT: the process named COMM whose last
# argument is MNT (all the daemons measured here keep their argv).
daemon_pid() {
	local comm=$1 mnt=$2 p c
	local -a args
	for p in /proc/[0-9]*; do
		read -r c 2>/dev/null <"$p/comm" || continue
		[[ $c == "$comm"* ]] || continue
		mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
		((${#args[@]})) || continue
		if [[ ${args[-1]} == "$mnt" ]]; then
			echo "${p#/proc/}"
			return 0
		fi
	done
	return 1
}
