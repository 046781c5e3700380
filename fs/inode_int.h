/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the inode table (fs/inode.c, fs/inode_sets.c): its doubly linked
 * lists. Callers hold fs->table_lock. */
#ifndef LETHEFS_INODE_INT_H
#define LETHEFS_INODE_INT_H

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

#endif
