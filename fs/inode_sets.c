/* SPDX-License-Identifier: Apache-2.0 */
/* Walks over the inode table: all of it, or only the set an operation
 * concerns (fs.h, lfs_fs_for_each_in). A lock drops pages of the inodes
 * that can have any and names of directories; a shred invalidates the
 * inodes of one staging id. At a million cached inodes neither walks the
 * rest. */
#define _GNU_SOURCE
#include "fs.h"
#include "inode_int.h"

#include <stdlib.h>

/* Takes a reference on every inode of the lists (and the root if asked),
 * then calls fn on each without the table lock and drops the references. */
static void run_snapshot(struct lfs_fs *fs, struct lfs_inode **all, size_t n,
                         void (*fn)(struct lfs_fs *, struct lfs_inode *, void *), void *arg)
{
	for (size_t k = 0; k < n; k++) {
		fn(fs, all[k], arg);
		if (all[k] != &fs->root)
			lfs_inode_forget(fs, all[k], 1);
	}
}

static size_t list_len(struct lfs_inode *head, size_t off)
{
	size_t n = 0;
	for (struct lfs_inode *i = head; i; i = lfs_link_at(i, off)->next)
		n++;
	return n;
}

/* Appends the list's inodes (stage_id filtered when match) to all. */
static size_t take_list(struct lfs_inode *head, size_t off, const uint32_t *match,
                        struct lfs_inode **all, size_t n, size_t cap)
{
	for (struct lfs_inode *i = head; i && n < cap; i = lfs_link_at(i, off)->next) {
		if (match && i->stage_id != *match)
			continue;
		i->nlookup++; /* released by run_snapshot */
		all[n++] = i;
	}
	return n;
}

void lfs_fs_for_each_inode(struct lfs_fs *fs,
                           void (*fn)(struct lfs_fs *, struct lfs_inode *, void *), void *arg)
{
	pthread_mutex_lock(&fs->table_lock);
	size_t n = 0, cap = fs->ninodes + 1;
	struct lfs_inode **all = malloc(cap * sizeof(*all));
	if (all) {
		all[n++] = &fs->root;
		for (size_t b = 0; b < fs->nbuckets; b++)
			n = take_list(fs->buckets[b], LFS_HASH_LINK, NULL, all, n, cap);
	}
	pthread_mutex_unlock(&fs->table_lock);
	if (!all)
		return;
	run_snapshot(fs, all, n, fn, arg);
	free(all);
}

void lfs_fs_for_each_in(struct lfs_fs *fs, enum lfs_inode_set set, uint32_t stage_id,
                        void (*fn)(struct lfs_fs *, struct lfs_inode *, void *), void *arg)
{
	pthread_mutex_lock(&fs->table_lock);
	struct lfs_inode *stage = fs->stage_lists[stage_id % LFS_STAGE_LISTS];
	size_t cap = set == LFS_SET_STAGE
	                 ? list_len(stage, LFS_STAGE_LINK)
	                 : 1 + list_len(fs->dirs, LFS_SET_LINK) +
	                       (set == LFS_SET_PAGED ? list_len(fs->opened, LFS_SET_LINK) : 0);
	size_t n = 0;
	struct lfs_inode **all = malloc((cap ? cap : 1) * sizeof(*all));
	if (all) {
		if (set == LFS_SET_STAGE) {
			n = take_list(stage, LFS_STAGE_LINK, &stage_id, all, n, cap);
		} else {
			all[n++] = &fs->root;
			n = take_list(fs->dirs, LFS_SET_LINK, NULL, all, n, cap);
			if (set == LFS_SET_PAGED)
				n = take_list(fs->opened, LFS_SET_LINK, NULL, all, n, cap);
		}
	}
	pthread_mutex_unlock(&fs->table_lock);
	if (!all)
		return;
	run_snapshot(fs, all, n, fn, arg);
	free(all);
}

void lfs_inode_note_open(struct lfs_fs *fs, struct lfs_inode *inode)
{
	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->table_lock);
	if (!inode->set.pprev)
		lfs_list_add(&fs->opened, inode, LFS_SET_LINK);
	pthread_mutex_unlock(&fs->table_lock);
}

bool lfs_inode_set_stage(struct lfs_fs *fs, struct lfs_inode *inode, uint32_t stage_id,
                         bool stage_root)
{
	if (inode == &fs->root)
		return false;
	/* Outside staging, as nearly every lookup is: nothing to change, and
	 * no need to queue for table_lock behind the listing's other lookups
	 * (stage_id and stage_root are read without it everywhere). */
	if (stage_id == 0 && !stage_root &&
	    __atomic_load_n(&inode->stage_id, __ATOMIC_RELAXED) == 0 &&
	    !__atomic_load_n(&inode->stage_root, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&fs->table_lock);
	bool changed = inode->stage_id != stage_id;
	if (changed || (stage_id && !inode->stage.pprev)) {
		lfs_list_del(inode, LFS_STAGE_LINK);
		inode->stage_id = stage_id;
		if (stage_id)
			lfs_list_add(&fs->stage_lists[stage_id % LFS_STAGE_LISTS], inode,
			             LFS_STAGE_LINK);
	}
	inode->stage_root = stage_root;
	pthread_mutex_unlock(&fs->table_lock);
	return changed;
}

size_t lfs_fs_inodes_cached(struct lfs_fs *fs)
{
	pthread_mutex_lock(&fs->table_lock);
	size_t n = fs->ninodes + fs->nunhashed;
	pthread_mutex_unlock(&fs->table_lock);
	return n;
}
