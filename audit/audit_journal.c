/* SPDX-License-Identifier: Apache-2.0 */
/* The log against its copies in a systemd journal (audit_journal.h). */
#define _GNU_SOURCE
#include "audit_journal.h"
#include "audit_reader.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <systemd/sd-journal.h>

/* One record of this vault found in the journal. */
struct copy {
	uint64_t seq;
	uint8_t hash[32];
	uint64_t when_us; /* when the journal received it */
};

struct copies {
	struct copy *v;
	size_t n, cap;
};

typedef unsigned long long ull;

/* The value of FIELD=value in the current record, NUL-terminated into out;
 * false when absent or too long. */
static bool field(sd_journal *j, const char *name, char *out, size_t outlen)
{
	const void *data;
	size_t len, nlen = strlen(name);
	if (sd_journal_get_data(j, name, &data, &len) < 0 || len <= nlen + 1 ||
	    len - nlen - 1 >= outlen)
		return false;
	memcpy(out, (const char *)data + nlen + 1, len - nlen - 1);
	out[len - nlen - 1] = '\0';
	return true;
}

static int add_copy(struct copies *c, sd_journal *j)
{
	char seq[32], hash[80];
	struct copy cp = {0};
	char *end;
	if (!field(j, "LETHEFS_SEQ", seq, sizeof(seq)) ||
	    !field(j, "LETHEFS_HASH", hash, sizeof(hash)))
		return 0; /* not ours, or damaged: nothing to compare */
	errno = 0;
	cp.seq = strtoull(seq, &end, 10);
	if (errno || *end || cp.seq == 0 || strlen(hash) != 64 ||
	    sodium_hex2bin(cp.hash, 32, hash, 64, NULL, NULL, NULL) != 0)
		return 0;
	sd_journal_get_realtime_usec(j, &cp.when_us);
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct copy *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v, c->cap = cap;
	}
	c->v[c->n++] = cp;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The records of this vault's log: of host's own log (its LETHEFS_HOST),
 * or of the main log (host NULL: records without LETHEFS_HOST). */
static int read_journal(const char *dir, const uint8_t uuid[16], const char *host, struct copies *c)
{
	sd_journal *j;
	char match[64], hex[33], hmatch[96];
	sodium_bin2hex(hex, sizeof(hex), uuid, 16);
	snprintf(match, sizeof(match), "LETHEFS_UUID=%s", hex);
	int r = dir ? sd_journal_open_directory(&j, dir, 0) : sd_journal_open(&j, 0);
	if (r < 0)
		return r;
	r = sd_journal_add_match(j, match, 0);
	if (r >= 0 && host) {
		snprintf(hmatch, sizeof(hmatch), "LETHEFS_HOST=%s", host);
		r = sd_journal_add_match(j, hmatch, 0);
	}
	while (r >= 0 && (r = sd_journal_next(j)) > 0) {
		char other[80];
		if (!host && field(j, "LETHEFS_HOST", other, sizeof(other)))
			continue; /* a host log's entry: numbered in that log */
		r = add_copy(c, j);
	}
	sd_journal_close(j);
	if (r < 0)
		return r;
	if (c->n)
		qsort(c->v, c->n, sizeof(c->v[0]), by_seq);
	return 0;
}

/* The hash of every line, in order: seq n is line n in an intact log. */
static int read_log_hashes(int dirfd, const char *name, uint8_t (**out)[32], size_t *n)
{
	int r;
	int fd = lfs_open_regular(dirfd, name);
	*out = NULL;
	*n = 0;
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	struct lfs_audit_reader rd;
	const char *line;
	size_t len, cap = 0;
	enum lfs_audit_line_status st;
	r = lfs_audit_reader_init(&rd, fd);
	while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &st)) == 1) {
		r = 0;
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			uint8_t(*v)[32] = realloc(*out, cap * 32);
			if (!v) {
				r = -ENOMEM;
				break;
			}
			*out = v;
		}
		lfs_audit_line_hash((*out)[(*n)++], line, len);
	}
	lfs_audit_reader_free(&rd);
	close(fd);
	return r < 0 ? r : 0;
}

static void when(uint64_t us, char out[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void contradiction(struct lfs_audit_report *rep, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void contradiction(struct lfs_audit_report *rep, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	rep->problem = LFS_AUDIT_ROLLED_BACK;
	rep->line = line;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

/* Two different copies of one seq: the log was rolled back and written
 * again from there (the strongest evidence, so looked for first). */
static bool forked(const struct copies *c, size_t n, struct lfs_audit_report *rep)
{
	char at[32];
	for (size_t i = 1; i < c->n; i++) {
		const struct copy *a = &c->v[i - 1], *b = &c->v[i];
		if (a->seq != b->seq || !memcmp(a->hash, b->hash, 32))
			continue;
		when(a->when_us < b->when_us ? a->when_us : b->when_us, at);
		contradiction(rep, b->seq <= n ? b->seq : 0,
		              "the system journal holds two different entries seq %llu (the first "
		              "sent at %s): the log was rolled back and written again from there",
		              (ull)b->seq, at);
		return true;
	}
	return false;
}

static void compare(const struct copies *c, uint8_t (*hashes)[32], size_t n,
                    struct lfs_audit_report *rep)
{
	char at[32];
	uint64_t present = 0;
	if (forked(c, n, rep))
		return;
	for (size_t i = 0; i < c->n; i++) {
		const struct copy *cp = &c->v[i];
		if (cp->seq > n) {
			when(cp->when_us, at);
			contradiction(
			    rep, 0,
			    "the system journal holds entry seq %llu (sent at %s), but the "
			    "log ends at seq %llu: the log and its head were rolled back or "
			    "cut",
			    (ull)cp->seq, at, (ull)n);
			return;
		}
		if (memcmp(hashes[cp->seq - 1], cp->hash, 32)) {
			when(cp->when_us, at);
			contradiction(
			    rep, cp->seq,
			    "entry seq %llu (line %llu) is not the entry sent to the system "
			    "journal at %s: the log was rolled back or replaced",
			    (ull)cp->seq, (ull)cp->seq, at);
			return;
		}
		if (i == 0 || c->v[i - 1].seq != cp->seq)
			present++;
	}
	rep->journal_missing = n - present;
}

int lfs_audit_check_journal_log(int dirfd, const char *name, const uint8_t uuid[16],
                                const char *host, const char *dir, struct lfs_audit_report *rep)
{
	struct copies c = {0};
	uint8_t(*hashes)[32] = NULL;
	size_t n = 0;
	int r = read_journal(dir, uuid, host, &c);
	if (r == 0)
		r = read_log_hashes(dirfd, name, &hashes, &n);
	if (r == 0) {
		rep->journal_checked = true;
		rep->journal_entries = c.n;
		rep->journal_last_seq = c.n ? c.v[c.n - 1].seq : 0;
		compare(&c, hashes, n, rep);
	}
	free(c.v);
	free(hashes);
	return r;
}

int lfs_audit_check_journal(int vault_dirfd, const struct lfs_vault_config *cfg, const char *dir,
                            struct lfs_audit_report *rep)
{
	int dirfd;
	char name[256];
	int r = lfs_audit_locate(vault_dirfd, cfg, &dirfd, name);
	if (r < 0)
		return r;
	r = lfs_audit_check_journal_log(dirfd, name, cfg->uuid, NULL, dir, rep);
	close(dirfd);
	return r;
}
