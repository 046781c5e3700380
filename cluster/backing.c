/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "backing.h"
#include "rangelock.h"
#include "../common/mountinfo.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sodium.h>

void lfs_backing_local(struct lfs_backing *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->fstype, sizeof(b->fstype), "?");
	b->rename_noreplace = b->rename_exchange = b->o_tmpfile = true;
	b->handles = b->handles_persistent = true;
	b->fallocate = b->user_xattrs = b->range_locks = b->flock = b->hard_links = true;
}

void lfs_backing_fstype(int dirfd, char *out, size_t len)
{
	snprintf(out, len, "?");
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	char want[32];
	snprintf(want, sizeof(want), "%u:%u", major(st.st_dev), minor(st.st_dev));
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [tags] - fstype source superopts */
		char *save = NULL, *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok && i < 2; i++)
			tok = strtok_r(NULL, " \n", &save);
		if (!tok || strcmp(tok, want) != 0)
			continue;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
		if (type) {
			lfs_mountinfo_unescape(type);
			snprintf(out, len, "%s", type);
			break;
		}
	}
	free(line);
	fclose(f);
}

bool lfs_backing_is_network(const char *t)
{
	static const char *const net[] = {"nfs",  "nfs4",   "ceph",     "cifs",  "smb3",
	                                  "9p",   "afs",    "gfs2",     "ocfs2", "lustre",
	                                  "gpfs", "beegfs", "glusterfs"};
	if (!strncmp(t, "fuse", 4))
		return true; /* GlusterFS, CephFS (ceph-fuse), sshfs...: most FUSE engines */
	for (size_t i = 0; i < sizeof(net) / sizeof(net[0]); i++)
		if (!strcmp(t, net[i]))
			return true;
	return false;
}

bool lfs_backing_close_is_silent(const struct lfs_backing *b)
{
	static const char *const silent[] = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs"};
	if (!b || !b->probed)
		return false;
	for (size_t i = 0; i < sizeof(silent) / sizeof(silent[0]); i++)
		if (!strcmp(b->fstype, silent[i]))
			return true;
	return false;
}

bool lfs_backing_direct_reads(const struct lfs_backing *b)
{
	/* The local filesystems: direct reads go to their disk. (tmpfs has
	 * direct I/O since Linux 6.6; where it has not, the open fails and
	 * the handle reads through the cache.) */
	return lfs_backing_close_is_silent(b);
}

static void probe_name(char out[40], const char *suffix)
{
	snprintf(out, 40, LFS_PROBE_PREFIX "%08x%08x%s", randombytes_random(), randombytes_random(),
	         suffix);
}

/* Two open file descriptions of one file must exclude each other. */
static bool locks_conflict(int fd, int fd2)
{
	if (lfs_range_lock(fd, true, 0, 1, false) < 0)
		return false;
	bool ok = lfs_range_lock(fd2, true, 0, 1, false) == -EAGAIN;
	lfs_range_unlock(fd, 0, 1);
	return ok;
}

static bool flocks_conflict(int fd, int fd2)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return false;
	bool ok = flock(fd2, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	flock(fd, LOCK_UN);
	return ok;
}

/* Handles work when one taken now opens the same object again. Whether
 * they keep working once the kernel has evicted the inode cannot be seen
 * without evicting it: the FUSE kernel module encodes its node ids in
 * them, which a FUSE server without export support (GlusterFS) forgets,
 * so handles on FUSE are taken as volatile. */
static void probe_handles(int dirfd, int fd, struct lfs_backing *b)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mnt;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	b->handles = false;
	if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0) {
		int o = open_by_handle_at(dirfd, &h.fh, O_PATH | O_CLOEXEC);
		struct stat a, c;
		b->handles = o >= 0 && fstat(o, &a) == 0 && fstat(fd, &c) == 0 &&
		             a.st_ino == c.st_ino && a.st_dev == c.st_dev;
		if (o >= 0)
			close(o);
	}
	b->handles_persistent = b->handles && strncmp(b->fstype, "fuse", 4) != 0;
}

/* RENAME_NOREPLACE must move onto a free name and refuse a taken one. */
static bool probe_noreplace(int dirfd, const char *a, const char *bname)
{
	if (renameat2(dirfd, a, dirfd, bname, RENAME_NOREPLACE) < 0) {
		if (renameat(dirfd, a, dirfd, bname) < 0)
			unlinkat(dirfd, a, 0);
		return false;
	}
	int fd = openat(dirfd, a, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	return renameat2(dirfd, a, dirfd, bname, RENAME_NOREPLACE) < 0 && errno == EEXIST;
}

int lfs_backing_probe(int dirfd, struct lfs_backing *b)
{
	lfs_backing_local(b);
	lfs_backing_fstype(dirfd, b->fstype, sizeof(b->fstype));
	b->network = lfs_backing_is_network(b->fstype);
	char a[40], c[48], l[48];
	probe_name(a, "");
	snprintf(c, sizeof(c), "%s.b", a);
	snprintf(l, sizeof(l), "%s.l", a);
	int fd = openat(dirfd, a, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = -errno;
		/* What needs no write: handles, through the directory itself. */
		int d = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d >= 0) {
			probe_handles(dirfd, d, b);
			close(d);
		}
		return e;
	}
	b->probed = true;
	b->fallocate = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
	b->user_xattrs = fsetxattr(fd, "user.lethefs.probe", "1", 1, 0) == 0;
	int fd2 = openat(dirfd, a, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	b->range_locks = fd2 >= 0 && locks_conflict(fd, fd2);
	b->flock = fd2 >= 0 && flocks_conflict(fd, fd2);
	if (fd2 >= 0)
		close(fd2);
	probe_handles(dirfd, fd, b);
	close(fd);
	b->hard_links = linkat(dirfd, a, dirfd, l, 0) == 0;
	unlinkat(dirfd, l, 0);
	b->rename_noreplace = probe_noreplace(dirfd, a, c);
	int again = openat(dirfd, a, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (again >= 0)
		close(again);
	/* a and c both exist now (unless a step failed). */
	b->rename_exchange = renameat2(dirfd, a, dirfd, c, RENAME_EXCHANGE) == 0;
	int t = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	b->o_tmpfile = t >= 0;
	if (t >= 0)
		close(t);
	unlinkat(dirfd, a, 0);
	unlinkat(dirfd, c, 0);
	return 0;
}

bool lfs_backing_rename_two_steps(const struct lfs_backing *b)
{
	return b && !b->rename_noreplace && b->hard_links;
}

/* Renames onto a free name with a plain rename: only safe for a target
 * nobody else creates (see backing.h). */
static int checked_rename(int olddirfd, const char *old, int newdirfd, const char *newname)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct stat st;
	pthread_mutex_lock(&lock);
	int r = 0;
	if (fstatat(newdirfd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = -EEXIST;
	else if (errno != ENOENT)
		r = -errno;
	else if (renameat(olddirfd, old, newdirfd, newname) < 0)
		r = errno == ENOTEMPTY || errno == ENOTDIR || errno == EISDIR ? -EEXIST : -errno;
	pthread_mutex_unlock(&lock);
	return r;
}

int lfs_backing_rename_noreplace(const struct lfs_backing *b, int olddirfd, const char *old,
                                 int newdirfd, const char *newname, bool resume, bool *two_steps)
{
	if (two_steps)
		*two_steps = false;
	if (!b || b->rename_noreplace)
		return renameat2(olddirfd, old, newdirfd, newname, RENAME_NOREPLACE) < 0 ? -errno
		                                                                         : 0;
	struct stat src;
	if (fstatat(olddirfd, old, &src, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(src.st_mode) || !b->hard_links)
		return checked_rename(olddirfd, old, newdirfd, newname);
	if (two_steps)
		*two_steps = true;
	if (linkat(olddirfd, old, newdirfd, newname, 0) < 0) {
		int e = errno;
		struct stat dst;
		/* Already linked by an earlier attempt cut short: finish it. */
		if (e != EEXIST || !resume ||
		    fstatat(newdirfd, newname, &dst, AT_SYMLINK_NOFOLLOW) < 0 ||
		    dst.st_ino != src.st_ino || dst.st_dev != src.st_dev)
			return -e;
	}
	if (unlinkat(olddirfd, old, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int lfs_backing_publish(const struct lfs_backing *b, int dirfd, const char *old,
                        const char *newname, bool is_dir)
{
	if (!b || b->rename_noreplace)
		return renameat2(dirfd, old, dirfd, newname, RENAME_NOREPLACE) < 0 ? -errno : 0;
	if (is_dir || !b->hard_links)
		return checked_rename(dirfd, old, dirfd, newname);
	if (linkat(dirfd, old, dirfd, newname, 0) < 0)
		return -errno;
	if (unlinkat(dirfd, old, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int lfs_rename_noreplace_any(int olddirfd, const char *old, int newdirfd, const char *newname,
                             bool resume)
{
	if (renameat2(olddirfd, old, newdirfd, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	struct lfs_backing b;
	lfs_backing_local(&b);
	b.rename_noreplace = false;
	return lfs_backing_rename_noreplace(&b, olddirfd, old, newdirfd, newname, resume, NULL);
}

static const char *yes_no(bool v)
{
	return v ? "yes" : "no";
}

int lfs_backing_describe(const struct lfs_backing *b, char *out, size_t len)
{
	int n = snprintf(
	    out, len,
	    "filesystem:        %s%s%s\n"
	    "rename_noreplace:  %s%s\n"
	    "rename_exchange:   %s%s\n"
	    "o_tmpfile:         %s%s\n"
	    "file_handles:      %s%s\n"
	    "fallocate:         %s%s\n"
	    "user_xattrs:       %s%s\n"
	    "byte_range_locks:  %s%s\n"
	    "flock:             %s\n"
	    "hard_links:        %s%s\n",
	    b->fstype, b->network ? " (network/FUSE engine)" : "",
	    b->probed ? "" : " (not probed: read-only storage; local defaults shown)",
	    yes_no(b->rename_noreplace),
	    b->rename_noreplace ? ""
	                        : " (fallback: link + unlink under a journal record; "
	                          "directories: a rename a non-empty target refuses)",
	    yes_no(b->rename_exchange),
	    b->rename_exchange ? "" : " (rename --exchange through the mount fails with EINVAL)",
	    yes_no(b->o_tmpfile), b->o_tmpfile ? "" : " (not used by lethefs)",
	    b->handles_persistent ? "yes"
	    : b->handles          ? "volatile"
	                          : "no",
	    b->handles_persistent ? ""
	                          : " (fallback: idle descriptors reopened by parent and name; "
	                            "journal records name objects by path)",
	    yes_no(b->fallocate),
	    b->fallocate ? "" : " (fallback: no space reserved before a write)",
	    yes_no(b->user_xattrs),
	    b->user_xattrs ? "" : " (xattrs and ACLs through the mount fail)",
	    yes_no(b->range_locks), b->range_locks ? "" : " (-o shared is refused)",
	    yes_no(b->flock), yes_no(b->hard_links),
	    b->hard_links ? ""
	                  : " (link through the mount fails; rename fallback: a lock and an "
	                    "existence check)");
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int lfs_backing_json(const struct lfs_backing *b, char *out, size_t len)
{
	char type[sizeof(b->fstype) * 2];
	size_t o = 0;
	for (const char *p = b->fstype; *p && o + 2 < sizeof(type); p++) {
		if (*p == '"' || *p == '\\')
			type[o++] = '\\';
		type[o++] = (unsigned char)*p < 0x20 ? '?' : *p;
	}
	type[o] = '\0';
	int n = snprintf(out, len,
	                 "\"filesystem\":\"%s\",\"network\":%s,\"probed\":%s,"
	                 "\"rename_noreplace\":%s,\"rename_exchange\":%s,\"o_tmpfile\":%s,"
	                 "\"file_handles\":\"%s\",\"fallocate\":%s,\"user_xattrs\":%s,"
	                 "\"byte_range_locks\":%s,\"flock\":%s,\"hard_links\":%s",
	                 type, b->network ? "true" : "false", b->probed ? "true" : "false",
	                 b->rename_noreplace ? "true" : "false",
	                 b->rename_exchange ? "true" : "false", b->o_tmpfile ? "true" : "false",
	                 b->handles_persistent ? "persistent"
	                 : b->handles          ? "volatile"
	                                       : "none",
	                 b->fallocate ? "true" : "false", b->user_xattrs ? "true" : "false",
	                 b->range_locks ? "true" : "false", b->flock ? "true" : "false",
	                 b->hard_links ? "true" : "false");
	return n < 0 || (size_t)n >= len ? -1 : n;
}
