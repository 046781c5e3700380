/* SPDX-License-Identifier: Apache-2.0 */
/* Staging directories in the FUSE handlers: the hooks of
 * fs/stage_hooks.h (markers, the staging_root rules, rmdir as a manual
 * shred, the user.lethefs.* attributes, quota charges). The table and the
 * shred sequence are stage.c, creation stage_create.c. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define XA_TTL     "user.lethefs.ttl"
#define XA_EXPIRES "user.lethefs.expires"
#define XA_QUOTA   "user.lethefs.quota"
#define XA_ID      "user.lethefs.id"
#define XA_USED    "user.lethefs.used"
/* staging_root is looked up again after this long (it may be created,
 * renamed or removed while mounted). */
#define ROOT_RECHECK_S 2

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
	/* Shared: another host may have made it a moment ago. */
	if (!lfs_staging_live(st, id) && st->lease)
		lfs_staging_refresh(st);
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

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Whether parent is the staging_root: compared with the backing
 * directory it resolved to. A positive answer is reused for
 * ROOT_RECHECK_S (staging_root renamed away stays strict that long); a
 * negative one and every mkdir look again, so a staging_root created
 * while mounted counts at once. */
static bool in_root(struct lfs_staging *st, fuse_req_t req, struct lfs_inode *parent, bool fresh)
{
	if (!st->root[0] || parent->stage_id || !S_ISDIR(parent->type))
		return false;
	int64_t now = mono_s();
	pthread_mutex_lock(&st->lock);
	bool cached = !fresh && st->root_ino && now - st->root_resolved < ROOT_RECHECK_S;
	bool hit = st->root_ino == parent->ino && st->root_dev == parent->dev;
	pthread_mutex_unlock(&st->lock);
	if (cached)
		return hit;
	struct stat sb;
	int rfd = open_staging_root(st, lfs_req_fs(req));
	bool found = rfd >= 0 && fstatat(rfd, "", &sb, AT_EMPTY_PATH) == 0;
	if (rfd >= 0)
		close(rfd);
	pthread_mutex_lock(&st->lock);
	st->root_dev = found ? sb.st_dev : 0;
	st->root_ino = found ? sb.st_ino : 0;
	st->root_resolved = now;
	pthread_mutex_unlock(&st->lock);
	return found && sb.st_ino == parent->ino && sb.st_dev == parent->dev;
}

static bool hook_in_root(void *ctx, fuse_req_t req, struct lfs_inode *parent, int pfd)
{
	(void)pfd;
	return in_root(ctx, req, parent, false);
}

static int hook_mkdir(void *ctx, fuse_req_t req, struct lfs_inode *parent, int pfd,
                      const char *name, const char *backing, mode_t mode)
{
	struct lfs_staging *st = ctx;
	(void)pfd;
	if (!in_root(st, req, parent, true))
		return 0;
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	char label[PATH_MAX];
	snprintf(label, sizeof(label), "%s/%s", st->root, name);
	struct lfs_audit_caller who;
	caller_of(req, &who);
	/* The caller's directory, with the mode it asked for. */
	struct lfs_stage_new n = {.ttl = st->default_ttl,
	                          .uid = fc->uid,
	                          .gid = fc->gid,
	                          .mode = mode,
	                          .chown = lfs_req_fs(req)->euid == 0,
	                          .label = label,
	                          .caller = &who};
	uint32_t id;
	int r = lfs_staging_create(st, &n, pfd, backing, &id);
	sodium_memzero(label, sizeof(label));
	return r < 0 ? r : 1;
}

/* An empty staging directory may be removed: that is a manual shred, done
 * by the control thread within a second (kernel caches cannot be dropped
 * from inside a handler). */
static bool backing_empty(int dfd);

static int hook_rmdir(void *ctx, fuse_req_t req, uint32_t id)
{
	struct lfs_staging *st = ctx;
	char hex[9];
	lfs_stage_id_hex(id, hex);
	int sfd = openat(st->sdirfd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Checked, not emptied: the shred removes the tree, and a request
	 * refused (owner_may_shorten = no) must leave the directory whole,
	 * its .lethefs.dir (in format 2 its record) included. */
	int r = sfd < 0 ? -errno : backing_empty(sfd) ? 0 : -ENOTEMPTY;
	if (sfd >= 0)
		close(sfd);
	if (r == 0) {
		struct lfs_audit_caller who;
		caller_of(req, &who);
		r = lfs_staging_request_shred(st, id, "rmdir", LFS_STAGE_WRITER, &who);
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
	struct lfs_audit_caller who;
	caller_of(req, &who);
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	struct lfs_stage_new nw = {
	    .ttl = ttl, .uid = fc->uid, .gid = fc->gid, .label = label, .caller = &who};
	if (r == 0)
		r = lfs_staging_adopt(st, &nw, pfd, base, dfd, &id);
	if (r == 0) {
		pthread_mutex_lock(&inode->meta_lock);
		inode->have_dirmeta = false;
		inode->have_rec = false; /* sealed under the staging key now */
		pthread_mutex_unlock(&inode->meta_lock);
		/* (takes the table lock: never under meta_lock) */
		lfs_inode_set_stage(fs, inode, id, true);
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
	if (!ttl && !quota && strcmp(name, XA_EXPIRES) && strcmp(name, XA_ID) &&
	    strcmp(name, XA_USED))
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
			r = inode->stage_root ? lfs_staging_set_quota(st, inode->stage_id, n, &who)
			                      : -EINVAL;
		else if (inode->stage_root && n == 0)
			/* A shred: by lethefs stage shred, or by any other program
			 * setting the attribute (the audit entry says which). */
			r = lfs_staging_request_shred(
			    st, inode->stage_id,
			    lfs_audit_caller_is_lethefs(&who) ? "command" : "setfattr",
			    LFS_STAGE_WRITER, &who);
		else if (inode->stage_root)
			r = lfs_staging_set_ttl(st, inode->stage_id, n, LFS_STAGE_WRITER, &who);
		else if (n == 0)
			r = -EINVAL;
		else
			r = lfs_staging_check_ttl(st, n) < 0 ? -EPERM : adopt(st, req, inode, n);
		if (r == -ENOENT)
			r = -EIO; /* shredded meanwhile */
		if (r == -EFBIG)
			r = -EPERM; /* beyond staging_max_ttl */
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
	    strcmp(name, XA_ID) && strcmp(name, XA_USED))
		return 0;
	struct lfs_stage_entry e;
	char out[64];
	if (!inode->stage_root || lfs_staging_get(st, inode->stage_id, &e) < 0) {
		fuse_reply_err(req, ENODATA);
		return 1;
	}
	int64_t now = lfs_staging_now(st);
	if (!strcmp(name, XA_TTL))
		lfs_format_duration(e.expires > now ? (uint64_t)(e.expires - now) : 0, out,
		                    sizeof(out));
	else if (!strcmp(name, XA_EXPIRES))
		iso(e.expires, out, sizeof(out));
	else if (!strcmp(name, XA_QUOTA))
		snprintf(out, sizeof(out), "%llu", (unsigned long long)e.quota);
	else if (!strcmp(name, XA_USED))
		snprintf(out, sizeof(out), "%llu", (unsigned long long)e.used);
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

static size_t hook_listxattr(void *ctx, struct lfs_inode *inode, char *out, size_t cap)
{
	static const char names[] = XA_TTL "\0" XA_EXPIRES;
	if (!inode->stage_root || !lfs_staging_live(ctx, inode->stage_id) || cap < sizeof(names))
		return 0;
	memcpy(out, names, sizeof(names));
	return sizeof(names);
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
	                              .in_root = hook_in_root,
	                              .listxattr = hook_listxattr,
	                              .rmdir = hook_rmdir,
	                              .setxattr = hook_setxattr,
	                              .getxattr = hook_getxattr};
}
