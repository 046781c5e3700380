/* SPDX-License-Identifier: Apache-2.0 */
/* Forwarding of audit entries to the system log (audit_forward.h). */
#define _GNU_SOURCE
#include "audit_forward.h"
#include "../common/log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>
#include <sodium.h>
#include <systemd/sd-journal.h>

/* One stable 128-bit id per event class, generated once (systemd-id128
 * new) and published in docs/AUDIT.md: log servers and journalctl filter
 * on them (journalctl MESSAGE_ID=...). Never change or reuse one. */
static const struct {
	const char *prefix; /* an event name, or a prefix ending in '-' */
	const char *id;
} CLASSES[] = {
    {"mount", "bee2a4e3dfbf427bb863c7a93b0e427d"},
    {"unmount", "bee2a4e3dfbf427bb863c7a93b0e427d"},
    {"unlock", "ae2c48ff24fc490d96bdec60a5fe9819"},
    {"lock", "e255a8916ae748ae98b04a4b36d11a56"},
    {"keyslot-", "b0cc13d21ce74faab29ae04bf540bebb"},
    {"passwd", "b0cc13d21ce74faab29ae04bf540bebb"},
    {"key-export", "b0cc13d21ce74faab29ae04bf540bebb"},
    {"rekey", "b0cc13d21ce74faab29ae04bf540bebb"},
    {"socket-refused", "5a181ec2fbbb44aa97f378716727dd17"},
    {"stage-", "25e08532a4ac43e0a6c4ea44c2b8e74c"},
    {"rotate", "75be5c454b6843898e4b839a3fc512b5"},
    {"recover", "fe312151892d43edb1b5c68acbafcb1b"},
    {"audit-check", "ca8bfa323b4443188be485294eb85455"},
};
static const char OTHER_ID[] = "2b526a074654415d88aeb0488a9c125e";

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define SYSLOG_SOCKET  "/dev/log"

const char *lfs_audit_message_id(const char *event)
{
	for (size_t i = 0; i < sizeof(CLASSES) / sizeof(CLASSES[0]); i++) {
		size_t n = strlen(CLASSES[i].prefix);
		bool prefix = CLASSES[i].prefix[n - 1] == '-';
		if (prefix ? !strncmp(event, CLASSES[i].prefix, n)
		           : !strcmp(event, CLASSES[i].prefix))
			return CLASSES[i].id;
	}
	return OTHER_ID;
}

const char *lfs_audit_forward_target(void)
{
	if (access(JOURNAL_SOCKET, W_OK) == 0)
		return "journal";
	return access(SYSLOG_SOCKET, W_OK) == 0 ? "syslog" : "none";
}

static int priority_of(const struct lfs_audit_record *rec)
{
	if (!strcmp(rec->event, "audit-check"))
		return LOG_ERR;
	return strcmp(rec->outcome, "success") ? LOG_WARNING : LOG_NOTICE;
}

/* The fields, as "NAME=value" strings. */
struct fields {
	char msg[1024], id[48], prio[16], uuid[48], event[64], outcome[64], seq[48];
	char hash[80], prev[80], keyed[24], uid[32], pid[32], exe[LFS_AUDIT_EXE_MAX + 32];
	char loginuid[40], sessionid[40], host[96];
	struct iovec iov[17];
	int n;
};

static void add(struct fields *f, char *field)
{
	f->iov[f->n].iov_base = field;
	f->iov[f->n].iov_len = strlen(field);
	f->n++;
}

static void build(struct fields *f, const struct lfs_audit_forwarded *a)
{
	const struct lfs_audit_record *rec = a->rec;
	const struct lfs_audit_caller *c = rec->caller && rec->caller->known ? rec->caller : NULL;
	char uuid[33], hash[65], prev[65], who[LFS_AUDIT_EXE_MAX + 160] = "the daemon";
	char exe[LFS_AUDIT_EXE_MAX + 8] = "\"\"";
	sodium_bin2hex(uuid, sizeof(uuid), a->uuid, 16);
	sodium_bin2hex(hash, sizeof(hash), a->hash, 32);
	sodium_bin2hex(prev, sizeof(prev), a->prev, 32);
	f->n = 0;
	if (c) {
		/* The escaped form: printable ASCII whatever the path holds. */
		lfs_audit_json_quote(exe, sizeof(exe), c->exe);
		snprintf(who, sizeof(who), "uid %lu pid %ld exe %s login uid %lld session %lld",
		         (unsigned long)c->uid, (long)c->pid, exe, (long long)c->loginuid,
		         (long long)c->sessionid);
	}
	/* A host log's entries are numbered in that log: "<uuid>/<host> #seq". */
	snprintf(f->msg, sizeof(f->msg), "MESSAGE=audit %s%s%s #%" PRIu64 ": %s %s by %s%s", uuid,
	         a->host ? "/" : "", a->host ? a->host : "", rec->seq, rec->event, rec->outcome,
	         who, a->keyed ? "" : " [unkeyed]");
	snprintf(f->id, sizeof(f->id), "MESSAGE_ID=%s", lfs_audit_message_id(rec->event));
	snprintf(f->prio, sizeof(f->prio), "PRIORITY=%d", priority_of(rec));
	snprintf(f->uuid, sizeof(f->uuid), "LETHEFS_UUID=%s", uuid);
	snprintf(f->event, sizeof(f->event), "LETHEFS_EVENT=%s", rec->event);
	snprintf(f->outcome, sizeof(f->outcome), "LETHEFS_OUTCOME=%s", rec->outcome);
	snprintf(f->seq, sizeof(f->seq), "LETHEFS_SEQ=%" PRIu64, rec->seq);
	snprintf(f->hash, sizeof(f->hash), "LETHEFS_HASH=%s", hash);
	snprintf(f->prev, sizeof(f->prev), "LETHEFS_PREV=%s", prev);
	snprintf(f->keyed, sizeof(f->keyed), "LETHEFS_KEYED=%d", a->keyed ? 1 : 0);
	add(f, f->msg);
	add(f, f->id);
	add(f, f->prio);
	add(f, "SYSLOG_IDENTIFIER=lethefs");
	add(f, "SYSLOG_FACILITY=10"); /* authpriv, as syslog(3) below */
	add(f, f->uuid);
	add(f, f->event);
	add(f, f->outcome);
	add(f, f->seq);
	add(f, f->hash);
	add(f, f->prev);
	add(f, f->keyed);
	if (a->host) {
		snprintf(f->host, sizeof(f->host), "LETHEFS_HOST=%s", a->host);
		add(f, f->host);
	}
	if (c) {
		snprintf(f->uid, sizeof(f->uid), "LETHEFS_UID=%lu", (unsigned long)c->uid);
		snprintf(f->pid, sizeof(f->pid), "LETHEFS_PID=%ld", (long)c->pid);
		snprintf(f->loginuid, sizeof(f->loginuid), "LETHEFS_LOGINUID=%lld",
		         (long long)c->loginuid);
		snprintf(f->sessionid, sizeof(f->sessionid), "LETHEFS_SESSIONID=%lld",
		         (long long)c->sessionid);
		add(f, f->uid);
		add(f, f->pid);
		add(f, f->loginuid);
		add(f, f->sessionid);
	}
}

void lfs_audit_forward(const struct lfs_audit_forwarded *a)
{
	static atomic_bool told;
	struct fields f;
	build(&f, a);
	int r = sd_journal_sendv(f.iov, f.n);
	if (r >= 0)
		return;
	/* No journald: the classic syslog socket, where a syslog daemon may
	 * forward it; glibc drops the line quietly when nothing listens. The
	 * fields travel inside the text. */
	syslog(LOG_AUTHPRIV | priority_of(a->rec), "%s %s %s %s %s %s%s%s", f.msg + 8, f.uuid,
	       f.seq, f.hash, f.prev, f.keyed, a->host ? " " : "", a->host ? f.host : "");
	if (!atomic_exchange(&told, true))
		lfs_log(LFS_LOG_DEBUG,
		        "audit: the system journal is not reachable (%s); entries go "
		        "to syslog(3)%s",
		        strerror(-r),
		        access(SYSLOG_SOCKET, W_OK) == 0 ? "" : ", and nothing listens there");
}
