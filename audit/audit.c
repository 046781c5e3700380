/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "audit.h"
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
	int dirfd;	    /* the directory holding the log and its head */
	char name[256];	    /* the log's file name in dirfd */
	char head[256 + sizeof(LFS_AUDIT_HEAD_SUFFIX)]; /* name + LFS_AUDIT_HEAD_SUFFIX */
	uint8_t genesis[32]; /* "prev" of entry 1 */
};

/* Room left in a 255-byte name for ".head" and lfs_replace_file's
 * ".<name>.tmp.XXXXXXXX" temporary. */
#define LOG_NAME_MAX 200

void lfs_audit_derive_key(uint8_t key[32], const uint8_t master[32])
{
	lfs_kdf_derive(key, master, 1, LFS_KDF_CTX_AUDIT);
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
	int fd = openat(log->dirfd, log->name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = fd < 0 ? -errno : -EINVAL;
		if (fd >= 0)
			close(fd);
		lfs_audit_close(log);
		return r;
	}
	close(fd);
	*out = log;
	return 0;
}

void lfs_audit_close(struct lfs_audit_log *log)
{
	if (!log)
		return;
	close(log->dirfd);
	free(log);
}

/* Where the next entry goes: its seq and prev, and whether the file ends
 * in a partial line that must first be closed with a newline. */
struct tail {
	uint64_t next_seq;
	uint8_t prev[32];
	bool need_newline;
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

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_head(const struct lfs_audit_log *log, uint64_t seq, const uint8_t hash[32],
		       const uint8_t *key)
{
	char text[LFS_AUDIT_HEAD_MAX];
	int n = lfs_audit_format_head(text, sizeof(text), seq, hash, key);
	int r = n < 0 ? n : lfs_replace_file(log->dirfd, log->head, text, (size_t)n, 0600);
	/* The entry itself is durable; a stale head only weakens the check
	 * for a cut tail until the next append, so report and carry on. */
	if (r < 0)
		lfs_warn("audit: cannot update %s: %s", log->head, strerror(-r));
}

static int lock_fd(int fd)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int lfs_audit_append(struct lfs_audit_log *log, const uint8_t *key, const char *event,
		     const char *outcome, const struct lfs_audit_caller *caller,
		     const struct lfs_audit_detail *details, size_t ndetails)
{
	if (!log || !event || !outcome)
		return -EINVAL;
	if (!key && !strcmp(event, "unlock") && !strcmp(outcome, "success"))
		return -EINVAL;
	/* A descriptor per append: flock belongs to the open file
	 * description, so one shared by threads or inherited over fork would
	 * not exclude anyone. */
	int fd = openat(log->dirfd, log->name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0)
		return -errno;
	char *buf = malloc(LFS_AUDIT_LINE_MAX + 2); /* newline closing a fragment, line, NUL */
	struct stat st;
	struct tail t;
	int r = buf ? lock_fd(fd) : -ENOMEM;
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EINVAL;
	if (r == 0)
		r = find_tail(log, fd, st.st_size, &t);
	if (r < 0)
		goto out;
	struct lfs_audit_record rec = {
		.seq = t.next_seq,
		.time_ms = now_ms(),
		.event = event,
		.outcome = outcome,
		.caller = caller,
		.details = details,
		.ndetails = ndetails,
	};
	size_t off = t.need_newline ? 1 : 0;
	buf[0] = '\n';
	int n = lfs_audit_format_line(buf + off, &rec, t.prev, key);
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
	uint8_t hash[32];
	lfs_audit_line_hash(hash, buf + off, (size_t)n - 1);
	write_head(log, rec.seq, hash, key);
out:
	free(buf);
	close(fd); /* releases the lock */
	return r;
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
