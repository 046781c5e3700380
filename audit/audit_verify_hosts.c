/* SPDX-License-Identifier: Apache-2.0 */
/* The host logs of a shared vault (audit_verify_hosts.h). */
#define _GNU_SOURCE
#include "audit_verify_hosts.h"
#include "audit_journal.h"
#include "audit_reader.h"
#include "../common/fileutil.h"
#include "audit_verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long ull;

static void fail(struct lfs_audit_report *rep, enum lfs_audit_problem p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct lfs_audit_report *rep, enum lfs_audit_problem p, const char *fmt, ...)
{
	va_list ap;
	rep->problem = p;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

/* The report of name, added when new. NULL: too many. */
static struct lfs_audit_host_report *slot(struct lfs_audit_hosts *h, const char *name, bool planted)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].planted == planted && !strcmp(h->v[i].name, name))
			return &h->v[i];
	if (h->n >= LFS_AUDIT_MAX_HOSTS)
		return NULL;
	if (h->n % 16 == 0) {
		struct lfs_audit_host_report *v = realloc(h->v, (h->n + 16) * sizeof(*v));
		if (!v)
			return NULL;
		h->v = v;
	}
	struct lfs_audit_host_report *r = &h->v[h->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->planted = planted;
	return r;
}

/* The hosts the main log registers. Only names that can be host names
 * count: a forged registration would not verify with the main log. */
static int read_registrations(int dirfd, const char *name, struct lfs_audit_hosts *h)
{
	int fd = lfs_open_regular(dirfd, name);
	if (fd == -EINVAL || fd == -ENOENT)
		return 0; /* the main log's own verify says so */
	if (fd < 0)
		return fd;
	struct lfs_audit_reader rd;
	const char *line;
	size_t len;
	enum lfs_audit_line_status ls;
	int r = lfs_audit_reader_init(&rd, fd);
	while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &ls)) == 1) {
		char host[LFS_HOST_NAME_MAX + 1];
		uint64_t seq;
		r = 0;
		if (ls != LFS_AUDIT_LINE_COMPLETE || !lfs_audit_registration(line, len, host, &seq))
			continue;
		struct lfs_audit_host_report *hr = slot(h, host, false);
		if (!hr) {
			r = -E2BIG;
			break;
		}
		if (!hr->registered)
			hr->registered = true, hr->registered_seq = seq;
	}
	lfs_audit_reader_free(&rd);
	close(fd);
	return r < 0 ? r : 0;
}

/* Something in the directory that is not a host log or its head. */
static int planted(struct lfs_audit_hosts *h, const char *name, const char *what)
{
	char q[96];
	lfs_audit_json_quote(q, sizeof(q), name);
	struct lfs_audit_host_report *r = slot(h, q, true);
	if (!r)
		return -E2BIG;
	fail(&r->rep, LFS_AUDIT_INSERTED, "%s/%s is %s: planted in the host log directory", h->dir,
	     q, what);
	return 0;
}

/* Each name of the directory: a host log, a head (".head"), a temporary
 * of a head's replacement (a dot name), or planted. */
static int read_dir(int hostsfd, struct lfs_audit_hosts *h)
{
	int fd = dup(hostsfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.')
			continue; /* ".", "..", temporaries: never read */
		struct stat st;
		if (fstatat(hostsfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : -errno;
			continue;
		}
		char host[LFS_HOST_NAME_MAX + 1];
		size_t len = strlen(n), hl = strlen(LFS_AUDIT_HEAD_SUFFIX);
		bool is_head = len > hl && !strcmp(n + len - hl, LFS_AUDIT_HEAD_SUFFIX);
		size_t base = is_head ? len - hl : len;
		if (base > LFS_HOST_NAME_MAX) {
			r = planted(h, n, "not a host name");
			continue;
		}
		memcpy(host, n, base);
		host[base] = '\0';
		if (!lfs_audit_host_name_ok(host))
			r = planted(h, n, "not a host name");
		else if (S_ISLNK(st.st_mode))
			r = planted(h, n, "a symbolic link");
		else if (!S_ISREG(st.st_mode))
			r = planted(h, n, "not a regular file");
		else if (!slot(h, host, false))
			r = -E2BIG;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	return r;
}

/* The "prev" of the log's first line, when it parses. */
static bool first_prev(int dirfd, const char *name, uint8_t prev[32])
{
	int fd = lfs_open_regular(dirfd, name);
	if (fd < 0)
		return false;
	struct lfs_audit_reader rd;
	const char *line;
	size_t len;
	enum lfs_audit_line_status ls;
	struct lfs_audit_entry e;
	bool ok = lfs_audit_reader_init(&rd, fd) == 0 &&
	          lfs_audit_reader_next(&rd, &line, &len, &ls) == 1 &&
	          ls == LFS_AUDIT_LINE_COMPLETE && lfs_audit_parse_line(line, len, &e, NULL) == 0;
	if (ok)
		memcpy(prev, e.prev, 32);
	lfs_audit_reader_free(&rd);
	close(fd);
	return ok;
}

/* A log chained from another host's genesis (or the main log's): whose. */
static const char *whose_genesis(const struct lfs_audit_hosts *h, const uint8_t uuid[16],
                                 const uint8_t prev[32])
{
	uint8_t g[32];
	lfs_audit_genesis(g, uuid);
	if (!memcmp(g, prev, 32))
		return "the main log";
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].planted)
			continue;
		lfs_audit_host_genesis(g, uuid, h->v[i].name);
		if (!memcmp(g, prev, 32))
			return h->v[i].name;
	}
	return NULL;
}

static void check_one(const struct lfs_audit_hosts *h, int hostsfd, const uint8_t uuid[16],
                      const uint8_t *key, struct lfs_audit_host_report *hr)
{
	struct lfs_audit_report *rep = &hr->rep;
	uint8_t genesis[32], prev[32];
	const char *n = hr->name;
	lfs_audit_host_genesis(genesis, uuid, n);
	int r = lfs_audit_verify_log(hostsfd, n, genesis, key, rep);
	if (r < 0) {
		fail(rep, LFS_AUDIT_EDITED, "%s/%s cannot be read: %s", h->dir, n, strerror(-r));
		return;
	}
	if (!rep->log_present) {
		if (hr->registered)
			fail(rep, LFS_AUDIT_DELETED,
			     "the log of host %s is missing (registered by entry seq %llu of the "
			     "main "
			     "log): deleted",
			     n, (ull)hr->registered_seq);
		else
			fail(
			    rep, LFS_AUDIT_DELETED,
			    "the log of host %s is missing, its head file %s/%s%s remains: deleted",
			    n, h->dir, n, LFS_AUDIT_HEAD_SUFFIX);
		return;
	}
	const char *other = NULL;
	if (rep->entries && first_prev(hostsfd, n, prev) && memcmp(prev, genesis, 32))
		other = whose_genesis(h, uuid, prev);
	if (other) {
		fail(rep, LFS_AUDIT_INSERTED,
		     "%s/%s is not host %s's log but a copy of %s%s (its first entry chains from "
		     "there): copied or swapped",
		     h->dir, n, n, strcmp(other, "the main log") ? "host " : "", other);
		rep->line = 1;
		return;
	}
	if (rep->problem != LFS_AUDIT_INTACT) {
		char msg[sizeof(rep->message)];
		snprintf(msg, sizeof(msg), "%s", rep->message);
		fail(rep, rep->problem, "%s/%s: %s", h->dir, n, msg);
		return;
	}
	if (hr->registered && rep->keyed == 0)
		fail(rep, LFS_AUDIT_TRUNCATED,
		     "%s/%s holds no keyed entry, yet the main log registers host %s (entry seq "
		     "%llu) before its first keyed entry: its keyed entries were deleted (or the "
		     "host crashed between the two appends)",
		     h->dir, n, n, (ull)hr->registered_seq);
	else if (!hr->registered && rep->keyed > 0)
		fail(rep, LFS_AUDIT_INSERTED,
		     "%s/%s holds keyed entries, but the main log does not register host %s: "
		     "planted, or the main log's registration was removed",
		     h->dir, n, n);
}

static int by_name(const void *a, const void *b)
{
	const struct lfs_audit_host_report *x = a, *y = b;
	return strcmp(x->name, y->name);
}

int lfs_audit_verify_hosts(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
                           bool with_journal, const char *journal_dir, struct lfs_audit_hosts *out)
{
	int dirfd, hostsfd = -1;
	char name[256];
	memset(out, 0, sizeof(*out));
	int r = lfs_audit_locate(vault_dirfd, cfg, &dirfd, name);
	if (r < 0)
		return r;
	snprintf(out->dir, sizeof(out->dir), "%s%s", name, LFS_AUDIT_HOSTS_SUFFIX);
	r = read_registrations(dirfd, name, out);
	if (r == 0) {
		hostsfd = lfs_audit_hosts_dir_open(dirfd, name, false);
		out->dir_present = hostsfd >= 0;
		if (hostsfd == -ENOTDIR) {
			struct lfs_audit_host_report *hr = slot(out, out->dir, true);
			if (hr)
				fail(&hr->rep, LFS_AUDIT_INSERTED,
				     "%s is not a directory (a symbolic link or a file was planted "
				     "in its place)",
				     out->dir);
			out->dir_present = true;
		} else if (hostsfd < 0 && hostsfd != -ENOENT) {
			r = hostsfd;
		}
	}
	if (r == 0 && hostsfd >= 0)
		r = read_dir(hostsfd, out);
	if (r == 0 && out->n)
		qsort(out->v, out->n, sizeof(out->v[0]), by_name);
	for (size_t i = 0; r == 0 && i < out->n; i++) {
		struct lfs_audit_host_report *hr = &out->v[i];
		if (hr->planted)
			continue;
		if (hostsfd < 0) {
			fail(&hr->rep, LFS_AUDIT_DELETED,
			     "the log of host %s is missing (registered by entry seq %llu of the "
			     "main "
			     "log; %s is gone): deleted",
			     hr->name, (ull)hr->registered_seq, out->dir);
			continue;
		}
		check_one(out, hostsfd, cfg->uuid, key, hr);
		if (with_journal && hr->rep.problem == LFS_AUDIT_INTACT)
			r = lfs_audit_check_journal_log(hostsfd, hr->name, cfg->uuid, hr->name,
			                                journal_dir, &hr->rep);
	}
	if (hostsfd >= 0)
		close(hostsfd);
	close(dirfd);
	if (r < 0)
		lfs_audit_hosts_free(out);
	return r;
}

void lfs_audit_hosts_free(struct lfs_audit_hosts *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

bool lfs_audit_hosts_ok(const struct lfs_audit_hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].planted || h->v[i].rep.problem != LFS_AUDIT_INTACT)
			return false;
	return true;
}
