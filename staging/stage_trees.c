/* SPDX-License-Identifier: Apache-2.0 */
/* The trees of VAULT/staging: removing a shredded directory's ciphertext,
 * sweeping the markers of dead staging ids out of the data tree, and
 * listing what VAULT/staging holds (stage_store.h). The key files and the
 * index are stage_store.c's. */
#define _GNU_SOURCE
#include "stage_store.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A tree being removed is walked with fs/treewalk.h (any depth, a bounded
 * number of descriptors, its stack on the heap): a user of the mount can
 * make a staging tree deeper than a recursion could follow (a descriptor
 * per level ran out at about 10,000 levels, and the shred then left the
 * ciphertext behind for ever). Everything but a directory goes as it is
 * listed, a directory when the walk leaves it. */
struct removal_walk {
	uint64_t files, bytes;
	int err; /* the first failure */
};

struct removal_level {
	char name[NAME_MAX + 1]; /* the directory's name in its parent */
};

static void removal_failed(void *ctx, int e)
{
	struct removal_walk *w = ctx;
	if (w->err == 0)
		w->err = e;
}

static int removal_enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name,
                         int dfd, void *level)
{
	(void)tw;
	(void)parentfd;
	if (dfd < 0) {
		removal_failed(ctx, dfd);
		return dfd;
	}
	struct removal_level *l = level;
	if (name)
		snprintf(l->name, sizeof(l->name), "%s", name);
	return 1;
}

static int removal_entry(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name, void *level)
{
	(void)level;
	struct removal_walk *w = ctx;
	struct stat st;
	unsigned char type = lfs_treewalk_entry_type(tw);
	if (type == DT_DIR)
		return 1;
	if (type == DT_REG || type == DT_UNKNOWN) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				removal_failed(w, -errno);
			return 0;
		}
		if (S_ISDIR(st.st_mode))
			return 1;
		if (S_ISREG(st.st_mode) && name[0] != '.') {
			w->files++;
			w->bytes += (uint64_t)st.st_size;
		}
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		removal_failed(w, -errno);
	return 0;
}

static void removal_leave(void *ctx, struct lfs_treewalk *tw, void *level)
{
	const struct removal_level *l = level;
	if (lfs_treewalk_depth(tw) == 0)
		return; /* the root: its caller removes it */
	int pfd = lfs_treewalk_parentfd(tw);
	if (pfd < 0)
		removal_failed(ctx, -ESTALE); /* moved away meanwhile */
	else if (unlinkat(pfd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		removal_failed(ctx, -errno);
}

static void removal_lost(void *ctx, struct lfs_treewalk *tw, void *level, int err)
{
	(void)tw;
	(void)level;
	removal_failed(ctx, err);
}

static int remove_below(int dirfd, uint64_t *files, uint64_t *bytes)
{
	static const struct lfs_treewalk_ops ops = {.enter = removal_enter,
	                                            .entry = removal_entry,
	                                            .leave = removal_leave,
	                                            .lost = removal_lost};
	struct removal_walk w = {0};
	int r = lfs_treewalk(dirfd, &ops, &w, sizeof(struct removal_level));
	*files = w.files;
	*bytes = w.bytes;
	return r < 0 ? r : w.err;
}

int lfs_stage_remove_named_tree(int sdirfd, const char *name, uint64_t *files, uint64_t *bytes)
{
	*files = *bytes = 0;
	int fd = openat(sdirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		/* Not a tree: the marker an adoption put in its place before
		 * its commit (FORMAT.md 12.7), or anything planted there. The
		 * entry itself goes, never what a symlink names. */
		int r = unlinkat(sdirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		if (fsync(sdirfd) < 0 && r == 0)
			r = -errno;
		return r;
	}
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = remove_below(fd, files, bytes);
	close(fd);
	if (unlinkat(sdirfd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	if (fsync(sdirfd) < 0 && r == 0)
		r = -errno;
	return r;
}

int lfs_stage_remove_tree(int sdirfd, uint32_t id, uint64_t *files, uint64_t *bytes)
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	return lfs_stage_remove_named_tree(sdirfd, hex, files, bytes);
}

/* The marker sweep walks the whole data tree the same way (any depth). */
struct marker_sweep {
	bool (*dead)(uint32_t id, void *arg);
	void *arg;
	long removed;
};

static int sweep_enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name, int dfd,
                       void *level)
{
	(void)ctx;
	(void)tw;
	(void)parentfd;
	(void)name;
	(void)level;
	return dfd < 0 ? dfd : 1;
}

static int sweep_entry(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name, void *level)
{
	(void)level;
	struct marker_sweep *m = ctx;
	unsigned char type = lfs_treewalk_entry_type(tw);
	if (type == DT_UNKNOWN) {
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
	}
	if (type == DT_DIR)
		return 1;
	if (type != DT_LNK)
		return 0;
	char t[64];
	ssize_t l = readlinkat(dfd, name, t, sizeof(t));
	uint32_t id;
	if (l > 0 && lfs_stage_marker_id(t, (size_t)l, &id) && m->dead(id, m->arg) &&
	    unlinkat(dfd, name, 0) == 0)
		m->removed++;
	return 0;
}

static void sweep_leave(void *ctx, struct lfs_treewalk *tw, void *level)
{
	(void)ctx;
	(void)tw;
	(void)level;
}

static void sweep_lost(void *ctx, struct lfs_treewalk *tw, void *level, int err)
{
	(void)ctx;
	(void)tw;
	(void)level;
	(void)err; /* a directory gone meanwhile holds no marker */
}

long lfs_stage_sweep_markers(int datafd, bool (*dead)(uint32_t id, void *arg), void *arg)
{
	static const struct lfs_treewalk_ops ops = {
	    .enter = sweep_enter, .entry = sweep_entry, .leave = sweep_leave, .lost = sweep_lost};
	struct marker_sweep m = {.dead = dead, .arg = arg};
	if (lfs_treewalk(datafd, &ops, &m, 0) < 0)
		lfs_err("staging: the sweep of dead markers ran out of memory");
	return m.removed;
}

static struct lfs_stage_found *found_slot(struct lfs_stage_found **v, size_t *n, size_t *cap,
                                          uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].id == id)
			return &(*v)[i];
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct lfs_stage_found *p = realloc(*v, c * sizeof(*p));
		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	struct lfs_stage_found *f = &(*v)[(*n)++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	return f;
}

/* Only a directory is a tree: an adoption's marker waits under the id's
 * name until the commit exchanges it with the directory. */
static bool is_directory(int sdirfd, const struct dirent *de)
{
	struct stat st;
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(sdirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int lfs_stage_scan(int sdirfd, struct lfs_stage_found **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int err = 0;
	DIR *d = lfs_opendir_fd(sdirfd, &err);
	if (!d)
		return err;
	size_t cap = 0, pl = strlen(LFS_STAGE_HIDDEN_PREFIX);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		uint32_t id;
		bool hidden = len == pl + 8 && !strncmp(nm, LFS_STAGE_HIDDEN_PREFIX, pl);
		const char *hex = hidden ? nm + pl : nm;
		if (lfs_stage_id_parse(hex, 8, &id) < 0 ||
		    !(hidden || len == 8 ||
		      (len == 12 && (!strcmp(nm + 8, ".key") || !strcmp(nm + 8, ".exp")))))
			continue;
		struct lfs_stage_found *f = found_slot(out, n, &cap, id);
		if (!f) {
			r = -ENOMEM;
			break;
		}
		if (hidden)
			f->hidden_tree = true;
		else if (len == 8 && is_directory(sdirfd, de))
			f->tree = true;
		else if (len == 8)
			f->placeholder = true;
		else if (nm[9] == 'k')
			f->key = true;
		else
			f->exp = true;
	}
	closedir(d);
	if (r < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}
