/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct frame {
	DIR *d;    /* the listing; NULL while closed for depth */
	long pos;  /* its position while closed */
	dev_t dev; /* its identity while closed, to check a reopening */
	ino_t ino;
	char *name;      /* the entry name in the parent; NULL for the root */
	size_t path_len; /* length of tw->path before this directory's name */
	void *level;     /* the caller's per-directory state */
};

struct lfs_treewalk {
	int rootfd;
	const struct lfs_treewalk_ops *ops;
	void *ctx;
	size_t level_size;
	struct frame *f;
	size_t n, cap;
	char *path;
	size_t path_len, path_cap;
	unsigned char entry_type; /* d_type of the entry being passed to entry */
};

size_t lfs_treewalk_depth(const struct lfs_treewalk *tw)
{
	return tw->n ? tw->n - 1 : 0;
}

const char *lfs_treewalk_path(const struct lfs_treewalk *tw)
{
	return tw->path ? tw->path : "";
}

int lfs_treewalk_parentfd(const struct lfs_treewalk *tw)
{
	return tw->n >= 2 && tw->f[tw->n - 2].d ? dirfd(tw->f[tw->n - 2].d) : -1;
}

unsigned char lfs_treewalk_entry_type(const struct lfs_treewalk *tw)
{
	return tw->entry_type;
}

static int path_push(struct lfs_treewalk *tw, const char *name)
{
	size_t add = strlen(name);
	if (tw->path_len + add + 2 > tw->path_cap) {
		size_t cap = (tw->path_cap ? tw->path_cap * 2 : 1024) + add;
		char *p = realloc(tw->path, cap);
		if (!p)
			return -ENOMEM;
		tw->path = p;
		tw->path_cap = cap;
	}
	if (tw->path_len)
		tw->path[tw->path_len++] = '/';
	memcpy(tw->path + tw->path_len, name, add + 1);
	tw->path_len += add;
	return 0;
}

static void path_cut(struct lfs_treewalk *tw, size_t len)
{
	tw->path_len = len;
	if (tw->path)
		tw->path[len] = '\0';
}

static void frame_close(struct frame *f)
{
	if (f->d) {
		struct stat st;
		f->pos = telldir(f->d);
		f->dev = 0;
		f->ino = 0;
		if (fstat(dirfd(f->d), &st) == 0) {
			f->dev = st.st_dev;
			f->ino = st.st_ino;
		}
		closedir(f->d);
		f->d = NULL;
	}
}

/* Reopens frame i from its nearest open ancestor (or the root) by name,
 * at the position it was closed at. */
static int frame_reopen(struct lfs_treewalk *tw, size_t i)
{
	size_t j = i;
	while (j > 0 && !tw->f[j - 1].d)
		j--;
	int fd = openat(j > 0 ? dirfd(tw->f[j - 1].d) : tw->rootfd, ".",
	                O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t k = j; fd >= 0 && k <= i; k++) {
		if (!tw->f[k].name)
			continue; /* the root */
		int nfd =
		    openat(fd, tw->f[k].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
	}
	if (fd < 0)
		return -errno;
	tw->f[i].d = fdopendir(fd);
	if (!tw->f[i].d) {
		int e = -errno;
		close(fd);
		return e;
	}
	seekdir(tw->f[i].d, tw->f[i].pos);
	return 0;
}

/* Frame i (closed) reopened as the parent ("..") of the open directory
 * dfd, if that is still the same directory: one system call where the
 * reopening by name costs one per level from the nearest open ancestor,
 * which on the way up a deep chain (every ancestor closed) made the walk
 * quadratic in the depth. */
static void frame_reopen_up(struct lfs_treewalk *tw, size_t i, int dfd)
{
	struct frame *p = &tw->f[i];
	struct stat st;
	if (p->d || !p->ino)
		return;
	int fd = openat(dfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino ||
	    !(p->d = fdopendir(fd))) {
		close(fd); /* moved meanwhile: reopened by name (frame_reopen) */
		return;
	}
	seekdir(p->d, p->pos);
}

static void leave(struct lfs_treewalk *tw)
{
	struct frame *f = &tw->f[tw->n - 1];
	if (tw->n >= 2 && f->d && f->name)
		frame_reopen_up(tw, tw->n - 2, dirfd(f->d));
	tw->ops->leave(tw->ctx, tw, f->level);
	frame_close(f);
	free(f->name);
	free(f->level);
	path_cut(tw, f->path_len);
	tw->n--;
}

/* Enters parentfd/name: 0 when done with it (skipped), 1 when pushed. */
static int enter(struct lfs_treewalk *tw, int parentfd, const char *name)
{
	int dfd = name ? openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
	               : openat(parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tw->n == tw->cap) {
		size_t cap = tw->cap ? 2 * tw->cap : 64;
		struct frame *f = realloc(tw->f, cap * sizeof(*f));
		if (!f) {
			if (dfd >= 0)
				close(dfd);
			return -ENOMEM;
		}
		tw->f = f;
		tw->cap = cap;
	}
	struct frame *f = &tw->f[tw->n];
	memset(f, 0, sizeof(*f));
	f->path_len = tw->path_len;
	f->level = calloc(1, tw->level_size ? tw->level_size : 1);
	if (!f->level || (name && (!(f->name = strdup(name)) || path_push(tw, name) < 0))) {
		free(f->level);
		free(f->name);
		path_cut(tw, f->path_len);
		if (dfd >= 0)
			close(dfd);
		return -ENOMEM;
	}
	tw->n++;
	int r = tw->ops->enter(tw->ctx, tw, parentfd, name, dfd < 0 ? -errno : dfd, f->level);
	if (r <= 0 || dfd < 0) {
		if (dfd >= 0)
			close(dfd);
		leave(tw);
		return 0;
	}
	/* Keep at most LFS_TREEWALK_OPEN listings open. */
	if (tw->n > LFS_TREEWALK_OPEN)
		frame_close(&tw->f[tw->n - 1 - LFS_TREEWALK_OPEN]);
	f = &tw->f[tw->n - 1];
	f->d = fdopendir(dfd);
	if (!f->d) {
		close(dfd);
		tw->ops->lost(tw->ctx, tw, f->level, -errno);
		leave(tw);
		return 0;
	}
	return 1;
}

int lfs_treewalk(int rootfd, const struct lfs_treewalk_ops *ops, void *ctx, size_t level_size)
{
	struct lfs_treewalk tw = {
	    .rootfd = rootfd, .ops = ops, .ctx = ctx, .level_size = level_size};
	int r = enter(&tw, rootfd, NULL);
	while (r >= 0 && tw.n > 0 && (!ops->keep_going || ops->keep_going(ctx))) {
		struct frame *top = &tw.f[tw.n - 1];
		int e = top->d ? 0 : frame_reopen(&tw, tw.n - 1);
		if (e < 0) {
			ops->lost(ctx, &tw, top->level, e);
			leave(&tw);
			continue;
		}
		struct dirent *de = readdir(top->d);
		if (!de) {
			leave(&tw);
			continue;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int dfd = dirfd(top->d);
		tw.entry_type = de->d_type;
		if (ops->entry(ctx, &tw, dfd, de->d_name, top->level) == 1)
			r = enter(&tw, dfd, de->d_name);
	}
	while (tw.n > 0)
		leave(&tw);
	free(tw.f);
	free(tw.path);
	return r < 0 ? r : 0;
}
