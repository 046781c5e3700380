/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "lease.h"
#include "rangelock.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

bool lfs_host_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LFS_HOST_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

int lfs_host_name(char out[LFS_HOST_NAME_MAX + 1])
{
	struct utsname u;
	if (uname(&u) < 0)
		return -errno;
	if (!lfs_host_name_ok(u.nodename))
		return -EINVAL;
	snprintf(out, LFS_HOST_NAME_MAX + 1, "%s", u.nodename);
	return 0;
}

int lfs_host_record_format(const struct lfs_host_info *h, char out[LFS_HOST_RECORD_LEN])
{
	memset(out, 0, LFS_HOST_RECORD_LEN);
	int n = snprintf(out, LFS_HOST_RECORD_LEN,
	                 "lethefs-host 1\nhost %s\npid %ld\nsince %lld\nmode %s\nepoch %u\nend\n",
	                 h->host, h->pid, (long long)h->since, h->mode, (unsigned)h->epoch);
	return n < 0 || n >= LFS_HOST_RECORD_LEN ? -EINVAL : 0;
}

/* A decimal in [0, max]; the whole token. */
static bool parse_num(const char *s, size_t n, unsigned long long max, unsigned long long *v)
{
	if (n == 0 || n > 20)
		return false;
	unsigned long long x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

int lfs_host_record_parse(const char *text, size_t len, struct lfs_host_info *h)
{
	memset(h, 0, sizeof(*h));
	const char *end = memchr(text, '\0', len);
	if (end)
		len = (size_t)(end - text);
	unsigned seen = 0;
	size_t at = 0, line = 0;
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		if (!nl)
			return -EINVAL;
		const char *s = text + at;
		size_t n = (size_t)(nl - s);
		at += n + 1;
		if (line++ == 0) {
			if (n != 14 || memcmp(s, "lethefs-host 1", 14) != 0)
				return -EINVAL;
			continue;
		}
		if (n == 3 && memcmp(s, "end", 3) == 0)
			return seen == 0x1f ? 0 : -EINVAL;
		const char *sp = memchr(s, ' ', n);
		if (!sp)
			return -EINVAL;
		size_t kl = (size_t)(sp - s), vl = n - kl - 1;
		const char *v = sp + 1;
		unsigned long long x;
		unsigned bit;
		if (kl == 4 && !memcmp(s, "host", 4)) {
			bit = 1;
			if (vl > LFS_HOST_NAME_MAX)
				return -EINVAL;
			memcpy(h->host, v, vl);
			h->host[vl] = '\0';
			if (!lfs_host_name_ok(h->host))
				return -EINVAL;
		} else if (kl == 3 && !memcmp(s, "pid", 3)) {
			bit = 2;
			if (!parse_num(v, vl, 0x7fffffff, &x))
				return -EINVAL;
			h->pid = (long)x;
		} else if (kl == 5 && !memcmp(s, "since", 5)) {
			bit = 4;
			if (!parse_num(v, vl, (unsigned long long)INT64_MAX, &x))
				return -EINVAL;
			h->since = (int64_t)x;
		} else if (kl == 4 && !memcmp(s, "mode", 4)) {
			bit = 8;
			if (vl == 0 || vl >= sizeof(h->mode))
				return -EINVAL;
			for (size_t i = 0; i < vl; i++)
				if ((v[i] < 'a' || v[i] > 'z') && v[i] != '-')
					return -EINVAL;
			memcpy(h->mode, v, vl);
			h->mode[vl] = '\0';
		} else if (kl == 5 && !memcmp(s, "epoch", 5)) {
			bit = 16;
			if (!parse_num(v, vl, 0xffffffffULL, &x))
				return -EINVAL;
			h->epoch = (uint32_t)x;
		} else {
			return -EINVAL;
		}
		if (seen & bit)
			return -EINVAL;
		seen |= bit;
	}
	return -EINVAL;
}

/* A lock file lethefs made: a regular file of this user, no group or other
 * write (whoever else could write it could fake holders). */
static int open_own(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int write_record(struct lfs_lease *l)
{
	char text[LFS_HOST_RECORD_LEN];
	int r = lfs_host_record_format(&l->me, text);
	/* In place (one write of the whole record), never renamed: the lock
	 * that says "live" is on this inode. Readers retry a torn read. */
	if (r == 0)
		r = lfs_pwrite_full(l->hostfd, text, sizeof(text), 0);
	if (r == 0 && fdatasync(l->hostfd) < 0)
		r = -errno;
	return r;
}

static int read_record(int fd, struct lfs_host_info *h)
{
	char text[LFS_HOST_RECORD_LEN];
	int r = -EINVAL;
	for (int tries = 0; tries < 3 && r == -EINVAL; tries++) {
		size_t got;
		r = lfs_pread_full(fd, text, sizeof(text), 0, &got);
		if (r == 0)
			r = lfs_host_record_parse(text, got, h);
	}
	return r;
}

struct describe {
	const char *except;
	char *out;
	size_t len, used;
};

static void iso(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int describe_one(const struct lfs_host_info *h, void *arg)
{
	struct describe *d = arg;
	if (!h->live || (d->except && !strcmp(h->host, d->except) && !strcmp(h->mode, "shared")))
		return 0;
	char since[32];
	iso(h->since, since);
	int n = snprintf(d->out + d->used, d->len - d->used, "%shost %s (pid %ld, since %s, %s)",
	                 d->used ? ", " : "", h->host, h->pid, since, h->mode);
	if (n > 0 && (size_t)n < d->len - d->used)
		d->used += (size_t)n;
	return 0;
}

void lfs_hosts_describe_live(int vault_dirfd, const char *except, char *out, size_t len)
{
	struct describe d = {.except = except, .out = out, .len = len};
	out[0] = '\0';
	lfs_hosts_list(vault_dirfd, describe_one, &d);
	if (!d.used)
		snprintf(out, len, "another host (its record %s* is not readable yet)",
		         LFS_HOST_FILE_PREFIX);
}

int lfs_hosts_list(int vault_dirfd, int (*fn)(const struct lfs_host_info *h, void *arg), void *arg)
{
	int err;
	DIR *d = lfs_opendir_fd(vault_dirfd, &err);
	if (!d)
		return err;
	int count = 0;
	struct dirent *de;
	size_t pl = strlen(LFS_HOST_FILE_PREFIX);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, LFS_HOST_FILE_PREFIX, pl) != 0 ||
		    !lfs_host_name_ok(de->d_name + pl))
			continue;
		int fd = open_own(vault_dirfd, de->d_name, O_RDONLY);
		if (fd < 0)
			continue;
		struct lfs_host_info h;
		bool held = false;
		if (read_record(fd, &h) == 0 && !strcmp(h.host, de->d_name + pl) &&
		    lfs_range_held(fd, true, 0, 1, &held) == 0) {
			h.live = held;
			count++;
			if (fn(&h, arg)) {
				close(fd);
				break;
			}
		}
		close(fd);
	}
	closedir(d);
	return count;
}

static const char *mode_name(enum lfs_lease_mode m, const char *what)
{
	return m == LFS_LEASE_SHARED ? "shared" : m == LFS_LEASE_EXCLUSIVE ? "exclusive" : what;
}

/* Whether every live holder is an offline command (worth waiting for). */
static int only_commands(const struct lfs_host_info *h, void *arg)
{
	if (h->live && (!strcmp(h->mode, "shared") || !strcmp(h->mode, "exclusive"))) {
		*(bool *)arg = false;
		return 1;
	}
	return 0;
}

static int take_mount_byte(struct lfs_lease *l, int vault_dirfd, bool write, unsigned wait_ms)
{
	int r = lfs_range_lock(l->fd, write, LFS_LEASE_MOUNT, 1, false);
	if (r != -EAGAIN || wait_ms == 0)
		return r;
	bool commands = true;
	lfs_hosts_list(vault_dirfd, only_commands, &commands);
	if (!commands)
		return r;
	return lfs_range_lock_timed(l->fd, write, LFS_LEASE_MOUNT, 1, wait_ms);
}

int lfs_lease_acquire(struct lfs_lease *l, int vault_dirfd, enum lfs_lease_mode mode,
                      const char *what, unsigned wait_ms, char *who, size_t wholen)
{
	memset(l, 0, sizeof(*l));
	l->fd = l->hostfd = -1;
	who[0] = '\0';
	pthread_mutex_init(&l->lock, NULL);
	l->inited = true;
	int r = lfs_host_name(l->me.host);
	if (r < 0) {
		snprintf(who, wholen, "this host's name is not usable in a file name");
		return r;
	}
	snprintf(l->me.mode, sizeof(l->me.mode), "%s", mode_name(mode, what ? what : "command"));
	l->me.pid = (long)getpid();
	l->me.since = (int64_t)time(NULL);
	l->me.live = true;
	r = open_own(vault_dirfd, LFS_LEASE_FILE_NAME, O_RDWR | O_CREAT);
	if (r < 0) {
		snprintf(who, wholen, "cannot open %s: %s", LFS_LEASE_FILE_NAME, strerror(-r));
		return r;
	}
	l->fd = r;
	r = take_mount_byte(l, vault_dirfd, mode != LFS_LEASE_SHARED, wait_ms);
	if (r == -EAGAIN) {
		lfs_hosts_describe_live(vault_dirfd, NULL, who, wholen);
		lfs_lease_release(l);
		return -EBUSY;
	}
	if (r < 0) {
		snprintf(who, wholen, "cannot lock %s: %s", LFS_LEASE_FILE_NAME, strerror(-r));
		lfs_lease_release(l);
		return r;
	}
	char name[sizeof(LFS_HOST_FILE_PREFIX) + LFS_HOST_NAME_MAX];
	snprintf(name, sizeof(name), "%s%s", LFS_HOST_FILE_PREFIX, l->me.host);
	r = open_own(vault_dirfd, name, O_RDWR | O_CREAT);
	if (r >= 0) {
		l->hostfd = r;
		r = lfs_range_lock(l->hostfd, true, 0, 1, false);
		if (r == -EAGAIN) {
			/* Only possible beside another shared holder of this name. */
			struct lfs_host_info h;
			if (read_record(l->hostfd, &h) == 0)
				snprintf(who, wholen, "host %s (pid %ld, %s)", h.host, h.pid,
				         h.mode);
			else
				snprintf(who, wholen, "host %s", l->me.host);
			lfs_lease_release(l);
			return -EEXIST;
		}
	}
	if (r == 0)
		r = write_record(l);
	if (r < 0) {
		snprintf(who, wholen, "cannot write %s: %s", name, strerror(-r));
		lfs_lease_release(l);
		return r;
	}
	return 0;
}

void lfs_lease_release(struct lfs_lease *l)
{
	if (!l->inited)
		return;
	l->inited = false;
	if (l->hostfd >= 0)
		close(l->hostfd);
	if (l->fd >= 0)
		close(l->fd); /* the last descriptor: every lock goes */
	l->fd = l->hostfd = -1;
	pthread_mutex_destroy(&l->lock);
}

int lfs_lease_set_epoch(struct lfs_lease *l, uint32_t epoch)
{
	if (l->hostfd < 0)
		return 0;
	pthread_mutex_lock(&l->lock);
	int r = 0;
	if (l->me.epoch != epoch) {
		l->me.epoch = epoch;
		r = write_record(l);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int lfs_lease_role_try(struct lfs_lease *l, enum lfs_lease_byte role)
{
	return l->fd < 0 ? -EBADF : lfs_range_lock(l->fd, true, role, 1, false);
}

int lfs_lease_role_wait(struct lfs_lease *l, enum lfs_lease_byte role)
{
	return l->fd < 0 ? -EBADF : lfs_range_lock(l->fd, true, role, 1, true);
}

void lfs_lease_role_drop(struct lfs_lease *l, enum lfs_lease_byte role)
{
	if (l->fd >= 0)
		lfs_range_unlock(l->fd, role, 1);
}

int lfs_host_claim(int vault_dirfd, const char *host)
{
	if (!lfs_host_name_ok(host))
		return -EINVAL;
	char name[sizeof(LFS_HOST_FILE_PREFIX) + LFS_HOST_NAME_MAX];
	snprintf(name, sizeof(name), "%s%s", LFS_HOST_FILE_PREFIX, host);
	int fd = open_own(vault_dirfd, name, O_RDWR);
	if (fd < 0)
		return fd;
	int r = lfs_range_lock(fd, true, 0, 1, false);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}
