/* SPDX-License-Identifier: Apache-2.0 */
/* Set-id bits cleared by the daemon under FUSE_HANDLE_KILLPRIV_V2
 * (rawio.h): the kernel then leaves to the filesystem what it clears on
 * ext4 when a caller without CAP_FSETID writes, truncates or allocates,
 * and what any chown clears. The rules are the kernel's own
 * (setattr_should_drop_suidgid): set-user-ID always; set-group-ID when the
 * file is group-executable, or the caller is neither in its group nor
 * holds CAP_FSETID. */
#define _GNU_SOURCE
#include "ops.h"
#include "attr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool lfs_caller_in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (c->gid == gid)
		return true;
	gid_t groups[256];
	int n = fuse_req_getgroups(req, 256, groups);
	for (int i = 0; i < n && i < 256; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Whether the caller of req holds capability cap in the daemon's user
 * namespace, as the kernel's capable() asks: from /proc of the calling
 * thread (read only for a set-id file). Not known (the caller is gone, or
 * in another user namespace, where its capabilities do not count here):
 * no. */
static bool caller_has_cap(fuse_req_t req, unsigned cap)
{
	char path[64], line[256];
	pid_t pid = fuse_req_ctx(req)->pid;
	struct stat mine, theirs;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (pid <= 0 || stat("/proc/self/ns/user", &mine) < 0 || stat(path, &theirs) < 0 ||
	    mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	unsigned long long eff = 0;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && (eff & (1ULL << cap)) != 0;
}

#define CAP_FOWNER_BIT 3
#define CAP_FSETID_BIT 4

static bool caller_has_fsetid(fuse_req_t req)
{
	return caller_has_cap(req, CAP_FSETID_BIT);
}

/* setattr_should_drop_sgid: group-executable, or the caller neither in
 * the file's group nor holding CAP_FSETID (a chown by root keeps it). */
static mode_t killed_mode(fuse_req_t req, const struct stat *st)
{
	mode_t m = st->st_mode & (mode_t)~S_ISUID;
	if ((m & S_ISGID) &&
	    ((m & S_IXGRP) || (!lfs_caller_in_group(req, st->st_gid) && !caller_has_fsetid(req))))
		m &= (mode_t)~S_ISGID;
	return m;
}

int lfs_kill_mode_of(fuse_req_t req, struct lfs_inode *inode, int ifd, int *r)
{
	struct stat st;
	*r = 0;
	/* Every non-directory: a chown kills them on a FIFO or a device
	 * node too (chown_common); writes and truncations reach only files. */
	if (S_ISDIR(inode->type) || S_ISLNK(inode->type))
		return -1;
	*r = lfs_attr_fstat(lfs_req_fs(req), inode, ifd, &st);
	if (*r < 0 || !(st.st_mode & (S_ISUID | S_ISGID)))
		return -1;
	mode_t m = killed_mode(req, &st);
	return m == st.st_mode ? -1 : (int)(m & 07777);
}

int lfs_kill_noop_chown(fuse_req_t req, struct lfs_inode *inode, int ifd, int *r)
{
	int mode = lfs_kill_mode_of(req, inode, ifd, r);
	if (mode < 0)
		return -1;
	/* The bits would change: a change of mode, which only the owner (or
	 * CAP_FOWNER) may make (setattr_prepare). */
	struct stat st;
	*r = lfs_attr_fstat(lfs_req_fs(req), inode, ifd, &st);
	if (*r == 0 && fuse_req_ctx(req)->uid != st.st_uid && !caller_has_cap(req, CAP_FOWNER_BIT))
		*r = -EPERM;
	return *r == 0 ? mode : -1;
}

int lfs_kill_suidgid(fuse_req_t req, struct lfs_inode *inode, bool unless_fsetid)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	int ifd = lfs_inode_pin(fs, inode);
	if (ifd < 0)
		return ifd;
	int r, mode = lfs_kill_mode_of(req, inode, ifd, &r);
	bool cleared = false;
	if (r == 0 && mode >= 0 && !(unless_fsetid && caller_has_fsetid(req))) {
		r = lfs_change_mode_owner(fs, inode, ifd, mode, (uid_t)-1, (gid_t)-1);
		cleared = r == 0;
	}
	lfs_inode_unpin(fs, inode);
	return r < 0 ? r : cleared;
}
