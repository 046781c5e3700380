#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# boot-unlock.sh NAME: unlocks the mounted lethefs volume of
# /etc/lethefs/NAME.env. Run by lethefs-unlock@NAME.service, which loads
# that file into the environment:
#   MOUNTPOINT              the mount (required)
#   LETHEFS_UNLOCK_EXTPASS  a key provider's command (clevis decrypt < F.jwe)
#   LETHEFS_UNLOCK_KEYFILE  a key file
#   (neither)               ask through systemd-ask-password; a credential
#                           named lethefs.passphrase is used without asking
#   LETHEFS_UNLOCK_TRIES    passphrases asked, or key-provider attempts
#                           (default 3)
#   LETHEFS_UNLOCK_TIMEOUT  seconds to wait for a passphrase (default 0:
#                           forever)
#   LETHEFS                 the lethefs binary (the unit sets it)
# The secret goes from the asking program (or provider) to lethefs unlock
# through its --extpass pipe: never in an argument, the environment or a
# file. An already unlocked volume is left alone (exit 0). Exit codes are
# lethefs unlock's (3 wrong secret after the last try, 11 not mounted, ...)
# and 2 for a bad NAME.env.
set -u
name=${1:-}
lethefs=${LETHEFS:-/usr/local/bin/lethefs}
say() { echo "lethefs-unlock@$name: $*" >&2; }

if [ -z "$name" ] || [ -z "${MOUNTPOINT:-}" ]; then
	say "MOUNTPOINT is not set (is /etc/lethefs/$name.env there?)"
	exit 2
fi
tries=${LETHEFS_UNLOCK_TRIES:-3}
timeout=${LETHEFS_UNLOCK_TIMEOUT:-0}
case "$tries:$timeout" in
*[!0-9:]* | :* | 0:*)
	say "LETHEFS_UNLOCK_TRIES ($tries) must be a positive number and" \
		"LETHEFS_UNLOCK_TIMEOUT ($timeout) a number of seconds"
	exit 2
	;;
esac

"$lethefs" status --check --quiet "$MOUNTPOINT"
rc=$?
case $rc in
0)
	say "$MOUNTPOINT is already unlocked"
	exit 0
	;;
14) ;;
*) exit $rc ;;
esac

# The asking command is run by lethefs with /bin/sh; it reads these from
# the environment, so no value is ever re-parsed as shell text.
LETHEFS_UNLOCK_NAME=$name LETHEFS_UNLOCK_TIMEOUT=$timeout
export LETHEFS_UNLOCK_NAME LETHEFS_UNLOCK_TIMEOUT MOUNTPOINT
if [ -n "${LETHEFS_UNLOCK_EXTPASS:-}" ]; then
	how=provider
	set -- --extpass "$LETHEFS_UNLOCK_EXTPASS"
elif [ -n "${LETHEFS_UNLOCK_KEYFILE:-}" ]; then
	how=keyfile
	tries=1
	set -- --keyfile "$LETHEFS_UNLOCK_KEYFILE"
else
	how=ask
	# -n: no newline after the answer, so that lethefs drops the one a
	# credential file may end with (and only that one).
	set -- --extpass 'exec systemd-ask-password -n --id="lethefs:$LETHEFS_UNLOCK_NAME" \
		--credential=lethefs.passphrase --timeout="$LETHEFS_UNLOCK_TIMEOUT" \
		"Passphrase for lethefs volume $LETHEFS_UNLOCK_NAME ($MOUNTPOINT):"'
	# A credential is the same secret every time: one try.
	[ -e "${CREDENTIALS_DIRECTORY:-/nonexistent}/lethefs.passphrase" ] && tries=1
fi

try=1
while :; do
	"$lethefs" unlock "$@" "$MOUNTPOINT"
	rc=$?
	[ $rc -eq 0 ] && exit 0
	[ $try -ge "$tries" ] && break
	# Ask again after a wrong passphrase; retry a provider that failed (a
	# tang server not reachable yet) after a pause. Nothing else improves.
	if [ $how = ask ] && [ $rc -eq 3 ]; then
		say "wrong passphrase, try $((try + 1)) of $tries"
	elif [ $how = provider ] && [ $rc -eq 1 ]; then
		say "the key provider failed, trying again in 5 s ($((try + 1)) of $tries)"
		sleep 5
	else
		break
	fi
	try=$((try + 1))
done
say "$MOUNTPOINT stays locked (lethefs unlock exit $rc)"
exit $rc
