/* Ownership and mode of objects the daemon creates for a caller. The
 * daemon creates every backing object itself (as root), so what ext4 does
 * at creation has to be done here afterwards: the object belongs to the
 * caller's fsuid, its group is the caller's fsgid unless the parent
 * directory is set-group-ID (then the parent's group, which the backing
 * filesystem already gave it), and set-user-ID/set-group-ID bits the
 * caller asked for survive the chown (which clears them on non-directories). */
#define _GNU_SOURCE
#include "ops.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lfs_chown_new(fuse_req_t req, int dirfd, const char *backing, mode_t mode)
{
	if (lfs_req_fs(req)->euid != 0)
		return;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat parent;
	if (fstat(dirfd, &parent) < 0) {
		lfs_warn("cannot stat the parent of a new entry: %s", strerror(errno));
		return;
	}
	gid_t gid = (parent.st_mode & S_ISGID) ? (gid_t)-1 : ctx->gid;
	if (ctx->uid == 0 && gid == (gid_t)-1)
		return;
	if (fchownat(dirfd, backing, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		lfs_warn("cannot give new entry to uid %u: %s", ctx->uid, strerror(errno));
		return;
	}
	/* The kernel already dropped the bits the caller may not set (for
	 * instance set-group-ID for a group it is not in); what is left must
	 * stay, as on a local filesystem. */
	if (!S_ISLNK(mode) && !S_ISDIR(mode) && (mode & (S_ISUID | S_ISGID)) &&
	    fchmodat(dirfd, backing, mode & 07777, 0) < 0)
		lfs_warn("cannot restore the mode of a new entry: %s", strerror(errno));
}
