/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the inode table (fs/inode.c, fs/inode_sets.c): its doubly linked
 * lists. Callers hold fs->table_lock. */
#ifndef LETHEFS_INODE_INT_H
#define LETHEFS_INODE_INT_H

#include <fcntl.h> /* struct file_handle: users define _GNU_SOURCE */
#include <stddef.h>

#include "fs.h"

/* The link at offset off of inode n (off: offsetof(struct lfs_inode, X)). */
static inline struct lfs_inode_link *lfs_link_at(struct lfs_inode *n, size_t off)
{
	return (struct lfs_inode_link *)((char *)n + off);
}

static inline void lfs_list_add(struct lfs_inode **head, struct lfs_inode *in, size_t off)
{
	struct lfs_inode_link *l = lfs_link_at(in, off);
	l->next = *head;
	if (*head)
		lfs_link_at(*head, off)->pprev = &l->next;
	*head = in;
	l->pprev = head;
}

static inline void lfs_list_del(struct lfs_inode *in, size_t off)
{
	struct lfs_inode_link *l = lfs_link_at(in, off);
	if (!l->pprev)
		return;
	*l->pprev = l->next;
	if (l->next)
		lfs_link_at(l->next, off)->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

#define LFS_HASH_LINK  offsetof(struct lfs_inode, hash)
#define LFS_SET_LINK   offsetof(struct lfs_inode, set)
#define LFS_STAGE_LINK offsetof(struct lfs_inode, stage)

/* A file handle of any size, on the stack. */
struct lfs_handle_buf {
	struct file_handle fh;
	unsigned char room[MAX_HANDLE_SZ];
};

/* Files inode in under the backing object st describes, which replaced
 * its object (lfs_inode_repoint): its hash key and number change; an
 * entry left with the new number (a deleted object's, reused) is
 * unhashed. Takes table_lock and fd_lock. */
void lfs_inode_rekey(struct lfs_fs *fs, struct lfs_inode *in, const struct stat *st);

/* Descriptor parking (fdpark.c). The budget of descriptors for inodes
 * (raising the soft limit to the hard one first). */
size_t lfs_fdpark_budget(void);
/* A descriptor of the data tree's mount for open_by_handle_at, or -1 when
 * handles cannot be used here (then nothing is parked). */
int lfs_fdpark_handles_usable(int data_dir_fd);
/* Takes an inode off the LRU list (fd_lock held). */
void lfs_fdpark_drop(struct lfs_fs *fs, struct lfs_inode *in);
/* An inode nobody pins any more joins the LRU list (fd_lock held). */
void lfs_fdpark_release(struct lfs_fs *fs, struct lfs_inode *in);
/* For a new inode in (not yet in the table) open on fd, once the budget is
 * reached: takes its file handle now, outside every lock, so that parking
 * it later is a close alone. park() took it under fd_lock, which every
 * request's pin and unpin waits for: at 100,000 files a du parks an inode
 * for nearly every lookup (perf: a tenth of the daemon's CPU). */
void lfs_fdpark_prepare(struct lfs_fs *fs, struct lfs_inode *in, int fd);

#endif
