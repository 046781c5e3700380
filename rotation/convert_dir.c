/* SPDX-License-Identifier: Apache-2.0 */
/* One directory's conversion to the target epoch (rotation phase
 * "directory"): journal, rename every entry (redir.c), new .lethefs.dir;
 * and its symlinks, one at a time. */
#define _GNU_SOURCE
#include "convert.h"
#include "record.h"
#include "redir.h"
#include "../cluster/rangelock.h"
#include "../fs/gate.h"
#include "../fs/tree.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lfs_rot_convert_dir(struct walk *w, int parentfd, const char *name, const char *rel,
                        uint32_t *epoch)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = lfs_inode_hold(fs, parentfd, name);
	if (!in)
		return -ENOENT;
	pthread_rwlock_wrlock(&in->io_lock);
	int ifd = lfs_inode_pin(fs, in), dfd = -1, metafd = -1, e = ifd < 0 ? ifd : 0;
	struct lfs_dirmeta om, nm;
	if (e == 0)
		e = lfs_dirmeta_load(ifd, &om);
	if (e == 0)
		*epoch = om.epoch;
	if (e == 0 && lfs_rot_is_old(w->r, om.epoch)) {
		uint8_t old_img[LFS_DIRMETA_LEN], new_img[LFS_DIRMETA_LEN];
		unsigned slot = 0;
		bool slot_taken = false;
		nm = om;
		nm.epoch = w->r->target;
		dfd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = dfd < 0 ? -errno : 0;
		/* Shared: other hosts' name operations on the directory wait
		 * (fs/dirnames.h, lfs_dir_name_lock), and read the new metadata
		 * once it is replaced. Released when closed. */
		if (e == 0 && fs->shared) {
			metafd = openat(dfd, LFS_DIRMETA_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
			e = metafd < 0 ? -errno : lfs_range_lock(metafd, true, 0, 1, true);
			/* The lock came after the load: convert what is there now. */
			if (e == 0 && (e = lfs_dirmeta_load(ifd, &om)) == 0) {
				nm = om;
				nm.epoch = w->r->target;
				if (!lfs_rot_is_old(w->r, om.epoch))
					e = -EALREADY;
			}
		}
		if (e == 0) {
			lfs_dirmeta_encode(&om, old_img);
			lfs_dirmeta_encode(&nm, new_img);
			e = lfs_rot_record_begin(fs, LFS_JK_ROTATE_DIR, dfd, rel, old_img, new_img,
						 LFS_DIRMETA_LEN, &slot);
			slot_taken = e == 0;
		}
		unsigned renamed = 0, skipped = 0;
		if (e == 0)
			e = lfs_redir_convert(fs->kr, dfd, &om, &nm, &renamed, &skipped);
		if (e == 0) {
			pthread_mutex_lock(&in->meta_lock);
			in->dirmeta = nm;
			in->have_dirmeta = true;
			pthread_mutex_unlock(&in->meta_lock);
			lfs_rot_record_end(fs, slot);
			*epoch = nm.epoch;
			pthread_mutex_lock(&w->r->lock);
			w->r->dirs_done++;
			pthread_mutex_unlock(&w->r->lock);
			if (skipped)
				lfs_warn("rotation: %u names of backing directory %s authenticate "
				         "under no live epoch (see fsck)",
				         skipped, rel[0] ? rel : "d/");
		} else if (slot_taken) {
			/* Half converted: the record stays for the next recovery,
			 * which finishes it (lfs_redir_convert is idempotent). */
			lfs_journal_keep(fs->journal, slot);
		}
	}
	if (e == -EALREADY) {
		*epoch = om.epoch;
		e = 0;
	}
	if (metafd >= 0)
		close(metafd);
	if (dfd >= 0)
		close(dfd);
	if (ifd >= 0)
		lfs_inode_unpin(fs, in);
	pthread_rwlock_unlock(&in->io_lock);
	lfs_inode_release(fs, in);
	return e;
}

/* Symlinks are replaced by name, so the directory's names must not move
 * meanwhile: its io_lock exclusively. */
int lfs_rot_convert_link(struct walk *w, struct lfs_inode *dir, int dirfd, const char *name)
{
	int tfd = lfs_tree_fd(w->fs, 0); /* where long targets keep their sidecars */
	if (tfd < 0)
		return tfd;
	pthread_rwlock_wrlock(&dir->io_lock);
	int e = lfs_relink(w->fs->kr, tfd, dirfd, name);
	pthread_rwlock_unlock(&dir->io_lock);
	close(tfd);
	if (e == 1)
		lfs_fs_forget_entry(w->fs, dir, dirfd, name);
	if (e == 1) {
		pthread_mutex_lock(&w->r->lock);
		w->r->links_done++;
		pthread_mutex_unlock(&w->r->lock);
	}
	return e < 0 ? e : 0;
}
