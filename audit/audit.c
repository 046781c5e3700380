/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "audit.h"
#include "audit_end.h"
#include "audit_forward.h"
#include "audit_host.h"
#include "../keymgmt/kdf.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/trustpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

struct lfs_audit_log {
	int dirfd;      /* the directory holding the log and its head */
	char name[256]; /* the log's file name in dirfd */
	char head[256 + sizeof(LFS_AUDIT_HEAD_SUFFIX)]; /* name + LFS_AUDIT_HEAD_SUFFIX */
	uint8_t genesis[32];                            /* "prev" of entry 1 */
	uint8_t uuid[16];
	/* The seq this object appended last: a log that ends before it was
	 * cut while we were running (a long-lived daemon notices at once). */
	uint64_t last_written;
	/* A vault on read-only storage: entries go to the system log only,
	 * numbered from 1 and chained among themselves (lfs_audit_open_ro). */
	bool system_log_only;
	uint8_t ro_prev[32];
	/* A shared mount's own log (lfs_audit_open_host): the vault's main
	 * log, where the host registers before its first keyed entry, and
	 * the host's name; main is NULL for the main log itself. */
	struct lfs_audit_log *main;
	char host[LFS_HOST_NAME_MAX + 1];
	bool registered; /* by this process */
};

/* Room left in a 255-byte name for ".head" and lfs_replace_file's
 * ".<name>.tmp.XXXXXXXX" temporary. */
#define LOG_NAME_MAX 200

void lfs_audit_derive_key(uint8_t key[32], const uint8_t master[32])
{
	lfs_kdf_derive(key, master, 1, LFS_KDF_CTX_AUDIT);
}

/* Creates the log file if needed and checks it is one. Whatever the
 * backing store's writer planted under the name (a symlink, a FIFO, a
 * device node, a directory) is refused with -EINVAL, never followed nor
 * opened (lfs_open_regular_create). */
static int create_log_file(const struct lfs_audit_log *log)
{
	int fd =
	    lfs_open_regular_create(log->dirfd, log->name, O_WRONLY | O_APPEND | O_NONBLOCK, 0600);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int lfs_audit_locate(int vault_dirfd, const struct lfs_vault_config *cfg, int *dirfd,
                     char name[256])
{
	const char *path = cfg->audit_log[0] ? cfg->audit_log : LFS_AUDIT_DEFAULT_NAME;
	char why[512];
	/* lethefs.conf is not authenticated: the log stays in the vault or in
	 * LFS_AUDIT_ABS_DIR (common/trustpath.h). */
	int fd = lfs_open_confined_parent(vault_dirfd, path, LFS_AUDIT_ABS_DIR, name, 256, why,
	                                  sizeof(why));
	if (fd < 0)
		return fd;
	if (strlen(name) > LOG_NAME_MAX) {
		close(fd);
		return -EINVAL;
	}
	*dirfd = fd;
	return 0;
}

int lfs_audit_open(struct lfs_audit_log **out, int vault_dirfd, const struct lfs_vault_config *cfg)
{
	struct lfs_audit_log *log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	int r = lfs_audit_locate(vault_dirfd, cfg, &log->dirfd, log->name);
	if (r < 0) {
		free(log);
		return r;
	}
	snprintf(log->head, sizeof(log->head), "%s%s", log->name, LFS_AUDIT_HEAD_SUFFIX);
	lfs_audit_genesis(log->genesis, cfg->uuid);
	memcpy(log->uuid, cfg->uuid, sizeof(log->uuid));
	if ((r = create_log_file(log)) < 0) {
		lfs_audit_close(log);
		return r;
	}
	*out = log;
	return 0;
}

int lfs_audit_open_host(struct lfs_audit_log **out, int vault_dirfd,
                        const struct lfs_vault_config *cfg, const char *host)
{
	if (!lfs_audit_host_name_ok(host))
		return -EINVAL;
	struct lfs_audit_log *main;
	int r = lfs_audit_open(&main, vault_dirfd, cfg);
	if (r < 0)
		return r;
	struct lfs_audit_log *log = calloc(1, sizeof(*log));
	if (!log) {
		lfs_audit_close(main);
		return -ENOMEM;
	}
	log->main = main;
	log->dirfd = lfs_audit_hosts_dir_open(main->dirfd, main->name, true);
	if (log->dirfd < 0) {
		r = log->dirfd;
		free(log);
		lfs_audit_close(main);
		return r;
	}
	snprintf(log->host, sizeof(log->host), "%s", host);
	snprintf(log->name, sizeof(log->name), "%s", host);
	snprintf(log->head, sizeof(log->head), "%s%s", host, LFS_AUDIT_HEAD_SUFFIX);
	lfs_audit_host_genesis(log->genesis, cfg->uuid, host);
	memcpy(log->uuid, cfg->uuid, sizeof(log->uuid));
	if ((r = create_log_file(log)) < 0) {
		lfs_audit_close(log);
		return r;
	}
	*out = log;
	return 0;
}

/* One log object; lfs_audit_close also closes a host log's main log
 * (no recursion: the stack check refuses it). */
static void close_one(struct lfs_audit_log *log)
{
	if (!log)
		return;
	if (log->dirfd >= 0)
		close(log->dirfd);
	free(log);
}

void lfs_audit_close(struct lfs_audit_log *log)
{
	if (!log)
		return;
	close_one(log->main);
	close_one(log);
}

/* Where the next entry goes: its seq and prev, and whether the file ends
 * in a partial line that must first be closed with a newline. */
struct tail {
	uint64_t next_seq;
	uint8_t prev[32];
	bool need_newline;
	bool from_head;  /* the last line was unreadable: seq from the head file */
	bool last_keyed; /* the last entry carries a MAC */
};

/* When the last line cannot be read, the head file still knows where the
 * chain was. Without it the log cannot be continued: -EBADMSG. */
static int tail_from_head(const struct lfs_audit_log *log, struct tail *t)
{
	unsigned char *text;
	size_t len;
	struct lfs_audit_head h;
	int r = lfs_read_small_file(log->dirfd, log->head, LFS_AUDIT_HEAD_MAX, &text, &len);
	if (r < 0)
		return -EBADMSG;
	r = lfs_audit_parse_head((const char *)text, len, &h);
	free(text);
	if (r < 0)
		return -EBADMSG;
	t->next_seq = h.seq + 1;
	memcpy(t->prev, h.hash, sizeof(t->prev));
	t->from_head = true;
	return 0;
}

/* Reads at most two line lengths from the end of the file: enough for a
 * partial last line plus the complete one before it. */
static int find_tail(const struct lfs_audit_log *log, int fd, off_t size, struct tail *t)
{
	static const size_t window_max = 2 * LFS_AUDIT_LINE_MAX;
	char *buf;
	size_t window = (size_t)size < window_max ? (size_t)size : window_max, got;
	memset(t, 0, sizeof(*t));
	t->next_seq = 1;
	memcpy(t->prev, log->genesis, sizeof(t->prev));
	if (size == 0)
		return 0;
	buf = malloc(window);
	if (!buf)
		return -ENOMEM;
	int r = lfs_pread_full(fd, buf, window, size - (off_t)window, &got);
	if (r == 0 && got != window)
		r = -EIO;
	if (r < 0)
		goto out;
	bool whole_file = window == (size_t)size;
	size_t end = window; /* one past the newline ending the last complete line */
	if (buf[window - 1] != '\n') {
		t->need_newline = true;
		while (end > 0 && buf[end - 1] != '\n')
			end--;
		/* A complete entry that lost only its newline is still the
		 * last entry: chain to it rather than fork the chain. */
		struct lfs_audit_entry last;
		if ((end > 0 || whole_file) &&
		    lfs_audit_parse_line(buf + end, window - end, &last, NULL) == 0) {
			t->next_seq = last.seq + 1;
			t->last_keyed = last.has_mac;
			lfs_audit_line_hash(t->prev, buf + end, window - end);
			goto out;
		}
		if (end == 0) {
			/* No complete line: the whole file is a fragment (then
			 * start from genesis), or a fragment too long to be ours. */
			r = whole_file ? 0 : tail_from_head(log, t);
			goto out;
		}
	}
	size_t start = end - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && !whole_file) {
		r = tail_from_head(log, t);
		goto out;
	}
	struct lfs_audit_entry e;
	size_t len = end - 1 - start;
	if (lfs_audit_parse_line(buf + start, len, &e, NULL) == 0) {
		t->next_seq = e.seq + 1;
		t->last_keyed = e.has_mac;
	} else {
		/* A damaged last line: keep counting from the head, but chain
		 * to the damaged bytes so that verify still points at them. */
		r = tail_from_head(log, t);
		if (r < 0)
			goto out;
	}
	lfs_audit_line_hash(t->prev, buf + start, len);
out:
	free(buf);
	return r;
}

/* A power cut may keep the log's new length and not the page of an entry
 * whose fsync had not returned: the file then ends in NUL bytes (and
 * perhaps the rest of that entry). No entry holds a NUL, and the head file
 * is written only after the entry's fsync, so such a tail was never
 * vouched for: it is cut off at the end of the last line before its first
 * NUL (whatever the head did vouch for and is gone, lfs_audit_check_end
 * still reports). Left in place, the next entry would follow it and
 * verify would call it inserted (FORMAT.md 12.11). *size is updated. */
static int drop_torn_tail(const struct lfs_audit_log *log, int fd, off_t *size)
{
	size_t window =
	    (size_t)*size < 2 * LFS_AUDIT_LINE_MAX ? (size_t)*size : 2 * LFS_AUDIT_LINE_MAX;
	if (window == 0)
		return 0;
	char *buf = malloc(window);
	if (!buf)
		return -ENOMEM;
	size_t got;
	int r = lfs_pread_full(fd, buf, window, *size - (off_t)window, &got);
	if (r == 0 && got != window)
		r = -EIO;
	const char *nul = r == 0 ? memchr(buf, '\0', window) : NULL;
	size_t start = nul ? (size_t)(nul - buf) : 0;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	/* The line holding the NUL must begin inside the window. */
	if (nul && (start > 0 || window == (size_t)*size)) {
		off_t keep = *size - (off_t)(window - start);
		if (ftruncate(fd, keep) < 0) {
			r = -errno;
		} else {
			lfs_warn("audit: %s ended in %lld bytes of an entry never synced (a power "
			         "cut): removed",
			         log->name, (long long)(*size - keep));
			*size = keep;
		}
	}
	free(buf);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_head(const struct lfs_audit_log *log, const struct lfs_audit_head *h)
{
	char text[LFS_AUDIT_HEAD_MAX];
	int n = lfs_audit_format_head(text, sizeof(text), h);
	int r = n < 0 ? n : lfs_replace_file(log->dirfd, log->head, text, (size_t)n, 0600);
	/* The entry itself is durable; a stale head weakens the check for a
	 * cut tail, and the next append records it, so say it loudly. */
	if (r < 0)
		lfs_err("audit: cannot update %s: %s", log->head, strerror(-r));
}

static int lock_fd(int fd)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Formats one entry at buf (room for LFS_AUDIT_LINE_MAX + 1 bytes) after
 * the chain position *t, advances *t past it and fills hash. */
static int format_at(char *buf, struct tail *t, const struct lfs_audit_record *proto,
                     const uint8_t *key, uint8_t hash[32])
{
	struct lfs_audit_record rec = *proto;
	rec.seq = t->next_seq;
	int n = lfs_audit_format_line(buf, &rec, t->prev, key);
	if (n < 0)
		return n;
	lfs_audit_line_hash(hash, buf, (size_t)n - 1);
	t->next_seq++;
	memcpy(t->prev, hash, 32);
	return n;
}

/* The entry recording a gap found before this append (audit_end.h). */
static int format_gap(char *buf, struct tail *t, const struct lfs_audit_gap *g, const uint8_t *key,
                      int64_t when, uint8_t hash[32])
{
	struct lfs_audit_detail d[] = {{"kind", g->kind, 0},
	                               {"error", g->error, 0},
	                               {"head_seq", NULL, (long long)g->head_seq},
	                               {"keyed_seq", NULL, (long long)g->keyed_seq},
	                               {"log_seq", NULL, (long long)(t->next_seq - 1)}};
	struct lfs_audit_record rec = {.time_ms = when,
	                               .event = "audit-check",
	                               .outcome = "failure",
	                               .details = d,
	                               .ndetails = 5};
	return format_at(buf, t, &rec, key, hash);
}

static void forward(const struct lfs_audit_log *log, const struct lfs_audit_record *proto,
                    uint64_t seq, const uint8_t prev[32], const uint8_t hash[32], bool keyed)
{
	struct lfs_audit_record rec = *proto;
	rec.seq = seq;
	struct lfs_audit_forwarded f = {.uuid = log->uuid,
	                                .rec = &rec,
	                                .prev = prev,
	                                .hash = hash,
	                                .keyed = keyed,
	                                .host = log->main ? log->host : NULL};
	lfs_audit_forward(&f);
}

int lfs_audit_open_ro(struct lfs_audit_log **out, const struct lfs_vault_config *cfg)
{
	struct lfs_audit_log *log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->dirfd = -1;
	log->system_log_only = true;
	lfs_audit_genesis(log->genesis, cfg->uuid);
	memcpy(log->ro_prev, log->genesis, 32);
	memcpy(log->uuid, cfg->uuid, sizeof(log->uuid));
	*out = log;
	return 0;
}

bool lfs_audit_system_log_only(const struct lfs_audit_log *log)
{
	return log && log->system_log_only;
}

/* A read-only vault's entry: formatted and hashed like a line of the log,
 * sent to the system log, written nowhere. */
static int append_system_log_only(struct lfs_audit_log *log, const uint8_t *key,
                                  const struct lfs_audit_record *proto)
{
	char *buf = malloc(LFS_AUDIT_LINE_MAX);
	if (!buf)
		return -ENOMEM;
	struct lfs_audit_record rec = *proto;
	rec.seq = ++log->last_written;
	uint8_t hash[32];
	int n = lfs_audit_format_line(buf, &rec, log->ro_prev, key);
	if (n > 0) {
		lfs_audit_line_hash(hash, buf, (size_t)n - 1);
		forward(log, &rec, rec.seq, log->ro_prev, hash, key != NULL);
		memcpy(log->ro_prev, hash, 32);
	}
	free(buf);
	return n < 0 ? n : 0;
}

static int append_one(struct lfs_audit_log *log, const uint8_t *key, const char *event,
                      const char *outcome, const struct lfs_audit_caller *caller,
                      const struct lfs_audit_detail *details, size_t ndetails)
{
	if (!key && !strcmp(event, "unlock") && !strcmp(outcome, "success"))
		return -EINVAL;
	if (log->system_log_only) {
		struct lfs_audit_record ro = {.time_ms = now_ms(),
		                              .event = event,
		                              .outcome = outcome,
		                              .caller = caller,
		                              .details = details,
		                              .ndetails = ndetails};
		return append_system_log_only(log, key, &ro);
	}
	/* A descriptor per append: flock belongs to the open file
	 * description, so one shared by threads or inherited over fork would
	 * not exclude anyone. */
	int fd =
	    lfs_open_regular_create(log->dirfd, log->name, O_RDWR | O_APPEND | O_NONBLOCK, 0600);
	if (fd < 0)
		return fd;
	/* A newline closing a fragment, a gap entry, the entry, a NUL. */
	char *buf = malloc(2 * LFS_AUDIT_LINE_MAX + 2);
	struct stat st;
	struct tail t;
	int r = buf ? lock_fd(fd) : -ENOMEM;
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EINVAL;
	if (r == 0)
		r = drop_torn_tail(log, fd, &st.st_size);
	if (r == 0)
		r = find_tail(log, fd, st.st_size, &t);
	if (r < 0)
		goto out;
	struct lfs_audit_end end = {.nonempty = st.st_size > 0,
	                            .from_head = t.from_head,
	                            .last_keyed = t.last_keyed,
	                            .last_seq = t.next_seq - 1};
	memcpy(end.last_hash, t.prev, 32);
	struct lfs_audit_head head;
	struct lfs_audit_gap gap;
	r = lfs_audit_check_end(log->dirfd, log->name, log->head, &end, key, log->last_written,
	                        &head, &gap);
	if (r < 0)
		goto out;
	if (gap.found)
		lfs_err("audit: the log %s was tampered with: %s (recorded in the log)", log->name,
		        gap.error);
	struct lfs_audit_record rec = {
	    .time_ms = now_ms(),
	    .event = event,
	    .outcome = outcome,
	    .caller = caller,
	    .details = details,
	    .ndetails = ndetails,
	};
	/* One write for the gap entry and the entry: a fragment's newline,
	 * then at most two lines. */
	size_t off = t.need_newline ? 1 : 0;
	uint8_t gap_prev[32], gap_hash[32], prev[32], hash[32];
	uint64_t gap_seq = t.next_seq;
	buf[0] = '\n';
	if (gap.found) {
		memcpy(gap_prev, t.prev, 32);
		int n = format_gap(buf + off, &t, &gap, key, rec.time_ms, gap_hash);
		if (n < 0) {
			r = n;
			goto out;
		}
		off += (size_t)n;
	}
	memcpy(prev, t.prev, 32);
	rec.seq = t.next_seq;
	int n = format_at(buf + off, &t, &rec, key, hash);
	if (n < 0) {
		r = n;
		goto out;
	}
	r = lfs_write_all(fd, buf, off + (size_t)n);
	if (r < 0) {
		/* Never leave half an entry behind (full disk): we hold the lock,
		 * so nobody wrote after us. */
		if (ftruncate(fd, st.st_size) < 0)
			lfs_warn("audit: cannot remove a partial entry: %s", strerror(errno));
		goto out;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto out;
	}
	/* The head: this entry, and the newest keyed one (this one when keyed,
	 * else the anchor carried over from the previous head). */
	head.seq = rec.seq;
	memcpy(head.hash, hash, 32);
	if (key)
		lfs_audit_set_anchor(&head, key, rec.seq, hash);
	write_head(log, &head);
	log->last_written = rec.seq;
	struct lfs_audit_record gap_rec = {.event = "audit-check", .outcome = "failure"};
	if (gap.found)
		forward(log, &gap_rec, gap_seq, gap_prev, gap_hash, key != NULL);
	forward(log, &rec, rec.seq, prev, hash, key != NULL);
out:
	free(buf);
	close(fd); /* releases the lock */
	return r;
}

int lfs_audit_append(struct lfs_audit_log *log, const uint8_t *key, const char *event,
                     const char *outcome, const struct lfs_audit_caller *caller,
                     const struct lfs_audit_detail *details, size_t ndetails)
{
	if (!log || !event || !outcome)
		return -EINVAL;
	/* A host log's first keyed entry of this process is preceded by the
	 * host's registration in the main log: a host log that holds keyed
	 * entries is then one verify expects to find. */
	if (log->main && key && !log->registered) {
		struct lfs_audit_detail d[] = {{"host", log->host, 0}};
		int r = append_one(log->main, key, "audit-host", "success", NULL, d, 1);
		if (r < 0)
			return r;
		log->registered = true;
	}
	return append_one(log, key, event, outcome, caller, details, ndetails);
}

int lfs_audit_last_seq(const struct lfs_audit_log *log, uint64_t *seq)
{
	unsigned char *text;
	size_t len;
	struct lfs_audit_head h;
	int r = lfs_read_small_file(log->dirfd, log->head, LFS_AUDIT_HEAD_MAX, &text, &len);
	if (r < 0)
		return r;
	r = lfs_audit_parse_head((const char *)text, len, &h);
	free(text);
	if (r < 0)
		return -EBADMSG;
	*seq = h.seq;
	return 0;
}
