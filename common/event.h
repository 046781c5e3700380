/* SPDX-License-Identifier: Apache-2.0 */
/* Security events, as the code that notices them reports them: who asked
 * (the caller), what happened (event and outcome names) and details. The
 * reporting code hands them to an event sink; the daemon connects its
 * sinks to the vault's audit log (audit/), so nothing below the daemon
 * needs the session or the log. Names and vocabulary: docs/AUDIT.md. */
#ifndef LETHEFS_EVENT_H
#define LETHEFS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One "details" member: a string if str != NULL, else num. */
struct lfs_audit_detail {
	const char *key;
	const char *str;
	long long num;
};

/* Who asked; known=false for the daemon's own events. */
struct lfs_audit_caller {
	bool known;
	uid_t uid;
	pid_t pid;
	char exe[256];
	/* The kernel's login uid and session id of the process
	 * (/proc/PID/loginuid, /proc/PID/sessionid): set once at login by
	 * pam_loginuid and kept across su and sudo, so they name the person
	 * behind a root shell. LFS_AUDIT_UNSET when the process has none (a
	 * service started at boot) or the files cannot be read. */
	int64_t loginuid;
	int64_t sessionid;
};

#define LFS_AUDIT_UNSET (-1)

/* Fills c for process pid of user uid (from SO_PEERCRED or a FUSE
 * request): exe is the target of /proc/PID/exe, or "" when it cannot be
 * read; loginuid and sessionid from /proc/PID. */
void lfs_audit_caller_from_pid(struct lfs_audit_caller *c, uid_t uid, pid_t pid);
/* The running process: getuid(), getpid() and its own exe. */
void lfs_audit_caller_self(struct lfs_audit_caller *c);
/* Whether the caller runs the same executable as this process (a lethefs
 * command talking to its daemon, as opposed to another program). */
bool lfs_audit_caller_is_lethefs(const struct lfs_audit_caller *c);

/* Where events go: emit(ctx, ...) records one (and reports its own
 * failures); a sink without emit drops them (tests, offline tools). */
struct lfs_event_sink {
	void (*emit)(void *ctx, const char *event, const char *outcome,
	             const struct lfs_audit_caller *caller, const struct lfs_audit_detail *details,
	             size_t ndetails);
	void *ctx;
};

static inline void lfs_event_emit(const struct lfs_event_sink *sink, const char *event,
                                  const char *outcome, const struct lfs_audit_caller *caller,
                                  const struct lfs_audit_detail *details, size_t ndetails)
{
	if (sink && sink->emit)
		sink->emit(sink->ctx, event, outcome, caller, details, ndetails);
}

#endif
