/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "status_prometheus.h"
#include "cli.h"
#include "ctl_answer.h"
#include "ctl_client.h"
#include "../fs/opcount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum conv {
	NUMBER,  /* the member's number as it is */
	TIME,    /* an ISO 8601 UTC time, as Unix seconds */
	UNIX,    /* Unix seconds, 0 meaning unknown */
	LIST,    /* a comma-separated list, as its length */
	STATE,   /* 1 when the member equals arg, else 0 */
	ROTSTATE /* one sample per rotation state, 1 for the current one */
};

static const struct metric {
	const char *name, *type, *help, *member;
	enum conv conv;
	const char *arg;
} metrics[] = {
    {"lethefs_unlocked", "gauge", "1 when the volume is unlocked, 0 when locked", "state", STATE,
     "unlocked"},
    {"lethefs_mounted_since_timestamp_seconds", "gauge", "When the daemon mounted the volume",
     "mounted_since", TIME, NULL},
    {"lethefs_unlocked_since_timestamp_seconds", "gauge",
     "When the volume was last unlocked (absent while locked)", "unlocked_since", TIME, NULL},
    {"lethefs_open_files", "gauge", "File handles open on the mount", "open_files", NUMBER, NULL},
    {"lethefs_open_dirs", "gauge", "Directory handles open on the mount", "open_dirs", NUMBER,
     NULL},
    {"lethefs_idle_seconds", "gauge", "Seconds since the last file operation", "idle_seconds",
     NUMBER, NULL},
    {"lethefs_idle_lock_seconds", "gauge", "The configured idle lock (0: none)",
     "idle_lock_seconds", NUMBER, NULL},
    {"lethefs_failed_unlocks", "gauge", "Consecutive failed unlocks since the last success",
     "failed_unlocks", NUMBER, NULL},
    {"lethefs_unlock_delay_seconds", "gauge",
     "How long the daemon waits before answering the next wrong secret", "unlock_delay_seconds",
     NUMBER, NULL},
    {"lethefs_inodes_cached", "gauge", "Inodes the kernel holds a lookup of", "inodes_cached",
     NUMBER, NULL},
    {"lethefs_audit_seq", "gauge", "Sequence number of the audit log's last entry", "audit_seq",
     NUMBER, NULL},
    {"lethefs_rotation_state", "gauge", "Data-key rotation state (1 for the current one)",
     "rotation_state", ROTSTATE, NULL},
    {"lethefs_rotation_epoch", "gauge", "The current data-key epoch", "rotation_epoch", NUMBER,
     NULL},
    {"lethefs_rotation_old_epochs", "gauge", "Older data-key epochs still in the keyring",
     "rotation_old_epochs", LIST, NULL},
    {"lethefs_rotation_started_timestamp_seconds", "gauge", "Start of the last rotation",
     "rotation_started", UNIX, NULL},
    {"lethefs_rotation_completed_timestamp_seconds", "gauge", "End of the last rotation",
     "rotation_completed", UNIX, NULL},
    {"lethefs_rotation_files_done", "gauge", "Files re-encrypted by the rotation",
     "rotation_files_done", NUMBER, NULL},
    {"lethefs_rotation_files_total", "gauge", "Files done plus left at the last count",
     "rotation_files_total", NUMBER, NULL},
    {"lethefs_rotation_bytes_done", "gauge", "Plaintext bytes re-encrypted by the rotation",
     "rotation_bytes_done", NUMBER, NULL},
    {"lethefs_rotation_bytes_total", "gauge", "Bytes done plus left at the last count",
     "rotation_bytes_total", NUMBER, NULL},
    {"lethefs_rotation_errors", "gauge", "Objects the rotation could not convert",
     "rotation_errors", NUMBER, NULL},
    {"lethefs_staging_directories", "gauge", "Live staging directories", "staging_count", NUMBER,
     NULL},
    {"lethefs_staging_damaged", "gauge", "Staging directories whose key does not open",
     "staging_damaged", NUMBER, NULL},
    {"lethefs_staging_bytes", "gauge", "Plaintext bytes in staging directories", "staging_bytes",
     NUMBER, NULL},
    {"lethefs_staging_next_expiry_timestamp_seconds", "gauge",
     "The earliest expiry of a staging directory", "staging_next_expiry", TIME, NULL},
};

static const char *const rotation_states[] = {"idle", "running", "paused", "failed"};

/* A label value: backslash, double quote and newline escaped. */
static void print_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void sample(const char *name, const char *mnt, const char *extra, const char *value)
{
	printf("%s{mountpoint=\"", name);
	print_label(mnt);
	printf("\"%s} %s\n", extra ? extra : "", value);
}

/* "2026-11-29T09:00:00Z" as Unix seconds; -1 when it is not such a time. */
static long long iso_to_unix(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	return (long long)timegm(&tm);
}

/* The sample value of m for one answer, or false when it has none. */
static bool value_of(const struct metric *m, const char *resp, char *out, size_t len)
{
	char v[256];
	if (lfs_json_get(resp, strlen(resp), m->member, v, sizeof(v)) < 0 || !strcmp(v, "null"))
		return false;
	switch (m->conv) {
	case NUMBER:
		if (!*v || strspn(v, "-0123456789.e+") != strlen(v))
			return false;
		snprintf(out, len, "%s", v);
		return true;
	case TIME: {
		long long t = iso_to_unix(v);
		if (t < 0)
			return false;
		snprintf(out, len, "%lld", t);
		return true;
	}
	case UNIX:
		if (!strcmp(v, "0") || strspn(v, "0123456789") != strlen(v))
			return false;
		snprintf(out, len, "%s", v);
		return true;
	case LIST: {
		unsigned n = *v ? 1 : 0;
		for (const char *p = v; *p; p++)
			n += *p == ',';
		snprintf(out, len, "%u", n);
		return true;
	}
	case STATE:
		snprintf(out, len, "%d", !strcmp(v, m->arg));
		return true;
	case ROTSTATE:
		snprintf(out, len, "%s", v);
		return true;
	}
	return false;
}

static void print_family(const struct metric *m, char *const *mounts, char **resp, int n)
{
	char v[256];
	bool any = false;
	for (int i = 0; i < n && !any; i++)
		any = resp[i] && value_of(m, resp[i], v, sizeof(v));
	if (!any)
		return;
	printf("# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
	for (int i = 0; i < n; i++) {
		if (!resp[i] || !value_of(m, resp[i], v, sizeof(v)))
			continue;
		if (m->conv != ROTSTATE) {
			sample(m->name, mounts[i], NULL, v);
			continue;
		}
		for (size_t k = 0; k < sizeof(rotation_states) / sizeof(rotation_states[0]); k++) {
			char label[32];
			snprintf(label, sizeof(label), ",state=\"%s\"", rotation_states[k]);
			sample(m->name, mounts[i], label,
			       strcmp(v, rotation_states[k]) ? "0" : "1");
		}
	}
}

static void print_info(char *const *mounts, char **resp, int n)
{
	static const char *const keys[] = {"uuid", "cipher", "vault"};
	printf("# HELP lethefs_info The volume's vault, uuid and cipher (value 1)\n"
	       "# TYPE lethefs_info gauge\n");
	for (int i = 0; i < n; i++) {
		if (!resp[i])
			continue;
		printf("lethefs_info{mountpoint=\"");
		print_label(mounts[i]);
		putchar('"');
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			char v[512] = "";
			lfs_json_get(resp[i], strlen(resp[i]), keys[k], v, sizeof(v));
			printf(",%s=\"", keys[k]);
			print_label(v);
			putchar('"');
		}
		puts("} 1");
	}
}

/* lethefs_fuse_requests_total{op="..."}: status' fuse_requests object,
 * one sample per operation and mount. */
static void print_requests(char *const *mounts, char **resp, int n)
{
	bool header = false;
	for (int i = 0; i < n; i++) {
		char obj[LFS_CTL_RESPONSE_MAX];
		if (!resp[i] ||
		    lfs_json_get(resp[i], strlen(resp[i]), "fuse_requests", obj, sizeof(obj)) < 0)
			continue;
		for (int op = 0; op < LFS_OP_COUNT; op++) {
			char v[32], label[48];
			if (lfs_json_get(obj, strlen(obj), lfs_op_name(op), v, sizeof(v)) < 0 ||
			    !*v || strspn(v, "0123456789") != strlen(v))
				continue;
			if (!header)
				printf(
				    "# HELP lethefs_fuse_requests_total FUSE requests the daemon "
				    "received, by operation\n"
				    "# TYPE lethefs_fuse_requests_total counter\n");
			header = true;
			snprintf(label, sizeof(label), ",op=\"%s\"", lfs_op_name(op));
			sample("lethefs_fuse_requests_total", mounts[i], label, v);
		}
	}
}

int lfs_status_prometheus(char *const *args, int n, const char *socket)
{
	if (n > LFS_PROM_MOUNTS_MAX)
		return lfs_cli_usage_error("status", "at most %d MOUNTPOINTs", LFS_PROM_MOUNTS_MAX);
	char *resp[LFS_PROM_MOUNTS_MAX] = {NULL}, *mounts[LFS_PROM_MOUNTS_MAX] = {NULL};
	for (int i = 0; i < n; i++) {
		/* Labels name the mount by its real path, however it was given. */
		mounts[i] = realpath(args[i], NULL);
		if (!mounts[i])
			mounts[i] = strdup(args[i]);
		if (!mounts[i])
			continue; /* out of memory: reported as not answering */
		struct lfs_ctl_target t = {.mountpoint = args[i], .socket = socket};
		struct lfs_ctl_request req = {.verb = LFS_CTL_STATUS};
		resp[i] = malloc(LFS_CTL_RESPONSE_MAX);
		if (!resp[i])
			continue;
		if (lfs_ctl_call(&t, &req, NULL, resp[i], LFS_CTL_RESPONSE_MAX) != 0 ||
		    (!lfs_ctl_answer_ok(resp[i]) && lfs_ctl_answer_error("status", resp[i]))) {
			free(resp[i]);
			resp[i] = NULL;
		}
	}
	printf("# HELP lethefs_up 1 when the mount's daemon answered, 0 otherwise\n"
	       "# TYPE lethefs_up gauge\n");
	for (int i = 0; i < n; i++)
		sample("lethefs_up", mounts[i] ? mounts[i] : args[i], NULL, resp[i] ? "1" : "0");
	print_info(mounts, resp, n);
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++)
		print_family(&metrics[m], mounts, resp, n);
	print_requests(mounts, resp, n);
	for (int i = 0; i < n; i++) {
		free(resp[i]);
		free(mounts[i]);
	}
	return fflush(stdout) == 0 ? LFS_EXIT_OK : LFS_EXIT_ERROR;
}
