/* SPDX-License-Identifier: Apache-2.0 */
/* Closing the last descriptor of a removed backing file, off the request
 * that made it the last (docs/PERFORMANCE.md, "Tree work at many files").
 *
 * The daemon keeps an O_PATH descriptor of every inode the kernel
 * remembers, so a file removed through the mount is freed by the backing
 * filesystem only when the kernel forgets it and the daemon closes that
 * descriptor. That close truncates and frees the file's blocks; on a
 * backing filesystem mounted with -o discard it also waits for the disk to
 * discard them, a few milliseconds per file. FORGETs of a whole rm -rf
 * arrive one after another: the closes go to a few threads here, so that
 * the disk discards several files at once. The name is gone from the
 * vault before this (the unlink itself is done): only the freeing of the
 * blocks is deferred, as the kernel's FORGET already deferred it. */
#ifndef LETHEFS_CLOSER_H
#define LETHEFS_CLOSER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define LFS_CLOSER_THREADS 4
/* Descriptors queued at most. A queued descriptor is still open but no
 * longer counted among the inodes' (fs.h fd_budget): the caller sizes the
 * queue from the descriptor limit, so that a long rm -rf on a slow disk
 * cannot run the daemon out of descriptors; when it is full, the caller
 * closes the descriptor itself. */
#define LFS_CLOSER_QUEUE 4096

struct lfs_closer {
	pthread_mutex_t lock;
	pthread_cond_t work;
	int *queue; /* capacity descriptors, a ring */
	size_t capacity, head, count;
	pthread_t threads[LFS_CLOSER_THREADS];
	unsigned started;
	bool stopping;
};

/* The queue's size for an inode descriptor budget of fd_budget (half the
 * descriptor limit, fdpark.c): a quarter of it, at most LFS_CLOSER_QUEUE. */
size_t lfs_closer_capacity(size_t fd_budget);
/* capacity: descriptors queued at most (1 to LFS_CLOSER_QUEUE). */
int lfs_closer_init(struct lfs_closer *c, size_t capacity);
/* Closes every queued descriptor and joins the threads. */
void lfs_closer_destroy(struct lfs_closer *c);
/* Closes fd: on a closer thread when fd is the last name-less reference
 * of a removed regular file, else here. */
void lfs_closer_close(struct lfs_closer *c, int fd);

#endif
