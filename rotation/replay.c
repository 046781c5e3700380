/* SPDX-License-Identifier: Apache-2.0 */
/* Crash recovery of a rotation (rotation phase "replay"): the journal
 * of the one object whose conversion a crash interrupted is finished at
 * the next unlock, before the gate opens. */
#define _GNU_SOURCE
#include "rotate.h"
#include "rotjournal.h"
#include "redir.h"
#include "refile.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_target(struct lfs_rotation *r, const struct lfs_rotjournal *j, int flags)
{
	struct lfs_fs *fs = r->env.fs;
	int fd = -1;
	if (j->handle_len && fs->handle_mount_fd >= 0) {
		struct {
			struct file_handle fh;
			unsigned char bytes[LFS_ROTJ_HANDLE_MAX];
		} h;
		h.fh.handle_bytes = j->handle_len;
		h.fh.handle_type = j->handle_type;
		memcpy(h.fh.f_handle, j->handle, j->handle_len);
		fd = open_by_handle_at(fs->handle_mount_fd, &h.fh, flags | O_CLOEXEC);
	}
	if (fd < 0)
		fd = j->path[0] ? openat(fs->root.fd, j->path, flags | O_NOFOLLOW | O_CLOEXEC)
		                : openat(fs->root.fd, ".", flags | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != j->dev ||
	                (uint64_t)st.st_ino != j->ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void lfs_rotation_recover(struct lfs_rotation *r)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct lfs_rotjournal j;
	if (lfs_read_small_file(r->env.vault->dirfd, LFS_ROTATION_JOURNAL, LFS_ROTJ_MAX_LEN, &buf,
	                        &len) < 0)
		return;
	int e = lfs_rotjournal_decode(buf, len, &j);
	free(buf);
	if (e < 0) {
		lfs_warn("rotation: discarding an incomplete journal (nothing was converted yet)");
		lfs_rot_journal_drop(r);
		return;
	}
	int fd = open_target(r, &j, j.kind == LFS_ROTJ_FILE ? O_RDWR : O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		/* Removed since: nothing left to finish. */
		lfs_warn("rotation: journal target %s is gone", j.path[0] ? j.path : "d/");
		lfs_rot_journal_drop(r);
		return;
	}
	if (j.kind == LFS_ROTJ_FILE) {
		struct lfs_file_header oh, nh;
		struct stat st;
		e = fstat(fd, &st) < 0 ? -errno : 0;
		/* The journal's checksum held, so its headers are the ones this
		 * daemon wrote; one that does not parse is refused all the same
		 * (the journal stays for fsck and the next unlock). */
		if (e == 0 && (lfs_header_parse(j.old_raw, LFS_FILE_HDR_LEN, &oh) < 0 ||
		               lfs_header_parse(j.new_raw, LFS_FILE_HDR_LEN, &nh) < 0))
			e = -EINVAL;
		if (e == 0) {
			struct timespec ts[2] = {st.st_atim, st.st_mtim};
			e = lfs_refile(&r->env.fs->layout, r->env.kr, fd, &oh, &nh, true, NULL);
			/* Contents did not change: keep the times the user sees. */
			if (e == 0 && futimens(fd, ts) < 0)
				lfs_warn("rotation: cannot restore the times of %s: %s",
				         j.path[0] ? j.path : "d/", strerror(errno));
		}
	} else {
		struct lfs_dirmeta om, nm;
		e = lfs_dirmeta_decode(j.old_raw, LFS_DIRMETA_LEN, &om);
		if (e == 0)
			e = lfs_dirmeta_decode(j.new_raw, LFS_DIRMETA_LEN, &nm);
		if (e == 0)
			e = lfs_redir_convert(r->env.kr, fd, &om, &nm, NULL, NULL);
	}
	close(fd);
	if (e < 0) {
		lfs_err("rotation: cannot finish the interrupted conversion of %s: %s",
		        j.path[0] ? j.path : "d/", strerror(-e));
		return;
	}
	lfs_info("rotation: finished the interrupted conversion of %s", j.path[0] ? j.path : "d/");
	lfs_rot_audit(r, "resumed", "journal_kind", j.kind, NULL, 0);
	lfs_rot_journal_drop(r);
}
