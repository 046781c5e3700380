/* Staging directories in the FUSE handlers: the hooks of
 * fs/stage_hooks.h (markers, the staging_root rule for mkdir, rmdir as a
 * manual shred, the user.lethefs.* attributes, quota charges). The table
 * and the shred sequence are stage.c. */
#define _GNU_SOURCE
#include "ops_stage.h"
#include "../fs/dirnames.h"
#include "../fs/ops.h"
#include "../common/duration.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define XA_TTL     "user.lethefs.ttl"
#define XA_EXPIRES "user.lethefs.expires"
#define XA_QUOTA   "user.lethefs.quota"
#define XA_ID      "user.lethefs.id"

static bool hook_is_marker(void *ctx, int dirfd, const char *backing, uint32_t *id)
{
	(void)ctx;
	char t[64];
	ssize_t n = readlinkat(dirfd, backing, t, sizeof(t));
	return n > 0 && lfs_stage_marker_id(t, (size_t)n, id);
}

static bool hook_live(void *ctx, uint32_t id)
{
	return lfs_staging_live(ctx, id);
}

static int hook_open_dir(void *ctx, uint32_t id)
{
	struct lfs_staging *st = ctx;
	if (!lfs_staging_live(st, id))
		return -ENOENT;
	char hex[9];
	lfs_stage_id_hex(id, hex);
	int dfd = openat(st->sdirfd, hex, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return dfd < 0 ? -ENOENT : dfd;
}

static int hook_charge(void *ctx, uint32_t id, int64_t delta)
{
	return lfs_staging_charge(ctx, id, delta);
}

static bool hook_has_quota(void *ctx, uint32_t id)
{
	struct lfs_stage_entry se;
	return lfs_staging_get(ctx, id, &se) == 0 && se.quota;
}

static void caller_of(fuse_req_t req, struct lfs_audit_caller *who)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	lfs_audit_caller_from_pid(who, c->uid, c->pid);
}

/* Opens the directory at the configured staging_root (O_PATH), following
 * names from the mount's root: no key is cached, each component is one
 * name encryption and one openat. -ENOENT when it does not exist (yet). */
static int open_staging_root(struct lfs_staging *st, struct lfs_fs *fs)
{
	int cur = lfs_inode_pin(fs, &fs->root);
	if (cur < 0)
		return cur;
	int fd = openat(cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	lfs_inode_unpin(fs, &fs->root);
	const char *p = st->root;
	while (fd >= 0 && *p) {
		size_t n = strcspn(p, "/");
		char comp[LFS_NAME_MAX + 1], enc[LFS_ENCNAME_MAX];
		char bname[LFS_BACKING_NAME_MAX + 1], side[LFS_BACKING_NAME_MAX + 1];
		snprintf(comp, sizeof(comp), "%.*s", (int)n, p);
		p += n + (p[n] == '/');
		struct lfs_dirmeta m;
		const struct lfs_epoch_keys *k;
		int r = lfs_dirmeta_load(fd, &m);
		if (r == 0 && (r = lfs_keyring_get(fs->kr, m.epoch, &k)) == 0) {
			r = lfs_name_encrypt(k->name_mac, k->name_enc, m.dirid, comp, strlen(comp),
			                     enc);
			lfs_keyring_put(fs->kr);
		}
		int next = -1;
		if (r == 0) {
			lfs_backing_name(enc, bname, side);
			next = openat(fd, bname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = next < 0 ? -errno : 0;
		}
		close(fd);
		if (r < 0)
			return r;
		fd = next;
	}
	return fd;
}

static bool same_object(int a, int b)
{
	struct stat sa, sb;
	return fstatat(a, "", &sa, AT_EMPTY_PATH) == 0 && fstatat(b, "", &sb, AT_EMPTY_PATH) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int link_marker(int pfd, const char *backing, uint32_t id)
{
	char target[LFS_STAGING_MARK_LEN + 9];
	char hex[9];
	lfs_stage_id_hex(id, hex);
	snprintf(target, sizeof(target), LFS_STAGING_MARK "%s", hex);
	return symlinkat(target, pfd, backing) < 0 ? -errno : 0;
}

static int hook_mkdir(void *ctx, fuse_req_t req, struct lfs_inode *parent, int pfd,
                      const char *name, const char *backing)
{
	struct lfs_staging *st = ctx;
	struct lfs_fs *fs = lfs_req_fs(req);
	if (!st->root[0] || parent->stage_id)
		return 0;
	int rfd = open_staging_root(st, fs);
	if (rfd < 0)
		return 0;
	bool is_root = same_object(rfd, pfd);
	close(rfd);
	if (!is_root)
		return 0;
	uint32_t id = 0;
	int r = lfs_staging_begin(st, st->default_ttl, &id);
	if (r == 0 && (r = link_marker(pfd, backing, id)) < 0)
		lfs_staging_abort(st, id);
	if (r < 0)
		return r;
	char label[PATH_MAX];
	snprintf(label, sizeof(label), "%s/%s", st->root, name);
	struct lfs_audit_caller who;
	caller_of(req, &who);
	lfs_staging_commit(st, id, label, &who);
	return 1;
}

/* An empty staging directory may be removed: that is a manual shred, done
 * by the control thread within a second (kernel caches cannot be dropped
 * from inside a handler). */
static int hook_rmdir(void *ctx, fuse_req_t req, uint32_t id)
{
	struct lfs_staging *st = ctx;
	char hex[9];
	lfs_stage_id_hex(id, hex);
	int sfd = openat(st->sdirfd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = sfd < 0 ? -errno : lfs_empty_backing_dir(sfd);
	if (sfd >= 0)
		close(sfd);
	if (r == 0) {
		struct lfs_audit_caller who;
		caller_of(req, &who);
		r = lfs_staging_set_ttl(st, id, 0, &who);
	}
	return r;
}

/* Whether a backing directory holds only lethefs metadata. */
static bool backing_empty(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	bool empty = true;
	struct dirent *de;
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    lfs_classify_entry(de->d_name) != LFS_ENTRY_META)
			empty = false;
	closedir(d);
	return empty;
}

/* An existing empty directory becomes a staging directory: its backing
 * directory moves to VAULT/staging/ID/ (the inode's descriptor follows
 * the rename, so the kernel's inode stays valid) and a marker takes its
 * place. The VFS holds the directory's lock during setxattr, so nothing
 * can be created in it meanwhile. */
static int adopt(struct lfs_staging *st, fuse_req_t req, struct lfs_inode *inode, uint64_t ttl)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	if (inode == &fs->root || !S_ISDIR(inode->type))
		return -EINVAL;
	if (inode->stage_id)
		return -EXDEV; /* no staging directory inside another */
	int ifd = lfs_inode_pin(fs, inode);
	if (ifd < 0)
		return ifd;
	char proc[LFS_PROC_PATH_MAX], path[PATH_MAX];
	lfs_proc_path(ifd, proc);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	int r = n <= 0 ? -EIO : 0;
	char *slash = NULL;
	if (r == 0) {
		path[n] = '\0';
		slash = strrchr(path, '/');
		r = slash && slash != path ? 0 : -EIO;
	}
	int pfd = -1, dfd = -1;
	if (r == 0) {
		*slash = '\0';
		pfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = pfd < 0 || dfd < 0 ? -EIO : 0;
	}
	const char *base = slash ? slash + 1 : "";
	if (r == 0 && !backing_empty(dfd))
		r = -ENOTEMPTY;
	char label[LFS_NAME_MAX + 1] = "?";
	struct lfs_dirmeta pm;
	if (r == 0 && lfs_dirmeta_load(pfd, &pm) == 0 &&
	    lfs_entry_name(fs, pfd, &pm, base, label) < 0)
		snprintf(label, sizeof(label), "?");
	uint32_t id = 0;
	if (r == 0)
		r = lfs_staging_begin(st, ttl, &id);
	char hex[9];
	lfs_stage_id_hex(id, hex);
	if (r == 0) {
		/* The fresh backing dir makes way for the user's. */
		int fresh = openat(st->sdirfd, hex, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fresh >= 0) {
			unlinkat(fresh, LFS_DIRMETA_NAME, 0);
			close(fresh);
		}
		unlinkat(st->sdirfd, hex, AT_REMOVEDIR);
		if (renameat2(pfd, base, st->sdirfd, hex, RENAME_NOREPLACE) < 0)
			r = -errno;
		/* The directory keeps its mode and owner: its record, or in
		 * format 1 its backing directory's. */
		struct lfs_irec rec;
		struct stat dst;
		pthread_mutex_lock(&inode->meta_lock);
		bool have = inode->fmt == 2 && inode->have_rec;
		rec = inode->rec;
		pthread_mutex_unlock(&inode->meta_lock);
		if (r == 0 && !have)
			r = fstat(dfd, &dst) < 0 ? -errno
			                         : lfs_irec_make(&rec, dst.st_mode & (S_IFMT | 07777),
			                                         dst.st_uid, dst.st_gid, 0);
		if (r == 0 && (r = lfs_staging_write_meta(st->kr, dfd, id, &rec)) == 0 &&
		    (r = link_marker(pfd, base, id)) < 0)
			renameat2(st->sdirfd, hex, pfd, base, RENAME_NOREPLACE);
		if (r < 0)
			lfs_staging_abort(st, id);
	}
	if (r == 0) {
		pthread_mutex_lock(&inode->meta_lock);
		inode->have_dirmeta = false;
		inode->have_rec = false; /* sealed under the staging key now */
		inode->stage_id = id;
		inode->stage_root = true;
		pthread_mutex_unlock(&inode->meta_lock);
		struct lfs_audit_caller who;
		caller_of(req, &who);
		lfs_staging_commit(st, id, label, &who);
	}
	if (pfd >= 0)
		close(pfd);
	if (dfd >= 0)
		close(dfd);
	lfs_inode_unpin(fs, inode);
	sodium_memzero(label, sizeof(label));
	return r;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || s[0] == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	case 'T':
	case 't':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int hook_setxattr(void *ctx, fuse_req_t req, struct lfs_inode *inode, const char *name,
                         const char *value, size_t size)
{
	struct lfs_staging *st = ctx;
	bool ttl = !strcmp(name, XA_TTL), quota = !strcmp(name, XA_QUOTA);
	if (!ttl && !quota && strcmp(name, XA_EXPIRES) && strcmp(name, XA_ID))
		return 0;
	char v[64];
	int r = 0;
	while (size && (value[size - 1] == '\n' || value[size - 1] == '\0'))
		size--;
	if (!ttl && !quota)
		r = -EPERM; /* read-only */
	else if (size == 0 || size >= sizeof(v))
		r = -EINVAL;
	struct lfs_audit_caller who;
	caller_of(req, &who);
	if (r == 0) {
		memcpy(v, value, size);
		v[size] = '\0';
		uint64_t n;
		if (ttl && lfs_parse_duration(v, &n) < 0)
			r = -EINVAL;
		else if (quota && parse_size(v, &n) < 0)
			r = -EINVAL;
		else if (quota)
			r = inode->stage_root
			        ? lfs_staging_set_quota(st, inode->stage_id, n, &who)
			        : -EINVAL;
		else if (inode->stage_root)
			r = lfs_staging_set_ttl(st, inode->stage_id, n, &who);
		else if (n == 0)
			r = -EINVAL;
		else
			r = lfs_staging_check_ttl(st, n) < 0 ? -EPERM : adopt(st, req, inode, n);
		if (r == -ENOENT)
			r = -EIO; /* shredded meanwhile */
	}
	fuse_reply_err(req, -r);
	return 1;
}

static void iso(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int hook_getxattr(void *ctx, fuse_req_t req, struct lfs_inode *inode, const char *name,
                         size_t size)
{
	struct lfs_staging *st = ctx;
	if (strcmp(name, XA_TTL) && strcmp(name, XA_QUOTA) && strcmp(name, XA_EXPIRES) &&
	    strcmp(name, XA_ID))
		return 0;
	struct lfs_stage_entry e;
	char out[64];
	if (!inode->stage_root || lfs_staging_get(st, inode->stage_id, &e) < 0) {
		fuse_reply_err(req, ENODATA);
		return 1;
	}
	int64_t now = (int64_t)time(NULL);
	if (!strcmp(name, XA_TTL))
		lfs_format_duration(e.expires > now ? (uint64_t)(e.expires - now) : 0, out,
		                    sizeof(out));
	else if (!strcmp(name, XA_EXPIRES))
		iso(e.expires, out, sizeof(out));
	else if (!strcmp(name, XA_QUOTA))
		snprintf(out, sizeof(out), "%llu", (unsigned long long)e.quota);
	else
		lfs_stage_id_hex(e.id, out);
	size_t len = strlen(out);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, len);
	return 1;
}

void lfs_staging_hooks_init(struct lfs_stage_hooks *h, struct lfs_staging *st)
{
	*h = (struct lfs_stage_hooks){.ctx = st,
	                              .is_marker = hook_is_marker,
	                              .live = hook_live,
	                              .open_dir = hook_open_dir,
	                              .charge = hook_charge,
	                              .has_quota = hook_has_quota,
	                              .mkdir = hook_mkdir,
	                              .rmdir = hook_rmdir,
	                              .setxattr = hook_setxattr,
	                              .getxattr = hook_getxattr};
}
