/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "stage_store.h"
#include "../keymgmt/kdf.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t key_magic[8] = {'L', 'T', 'H', 'S', 'T', 'K', '0', '1'};
#define INDEX_MAGIC "lethefs-staging-index 1\n"
#define INDEX_MAX   (1 << 20)
#define KEY_HDR_LEN 16

int lfs_stage_dir_open(int vault_dirfd, bool create)
{
	if (create && mkdirat(vault_dirfd, LFS_STAGING_DIR_NAME, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(vault_dirfd, LFS_STAGING_DIR_NAME,
	                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void lfs_stage_id_hex(uint32_t id, char out[9])
{
	snprintf(out, 9, "%08" PRIx32, id);
}

int lfs_stage_id_parse(const char *s, size_t len, uint32_t *id)
{
	if (len != 8)
		return -EINVAL;
	uint32_t v = 0;
	for (size_t i = 0; i < 8; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		                                    : 16;
		if (d == 16)
			return -EINVAL;
		v = v << 4 | d;
	}
	if (!lfs_epoch_is_staging(v))
		return -EINVAL;
	*id = v;
	return 0;
}

bool lfs_stage_marker_id(const char *target, size_t len, uint32_t *id)
{
	return len == LFS_STAGING_MARK_LEN + 8 &&
	       memcmp(target, LFS_STAGING_MARK, LFS_STAGING_MARK_LEN) == 0 &&
	       lfs_stage_id_parse(target + LFS_STAGING_MARK_LEN, 8, id) == 0;
}

/* ---- index ---- */

int lfs_stage_index_add(struct lfs_stage_index *ix, const struct lfs_stage_entry *e)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 8;
		struct lfs_stage_entry *p = realloc(ix->e, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ix->e = p;
		ix->cap = cap;
	}
	ix->e[ix->n++] = *e;
	return 0;
}

struct lfs_stage_entry *lfs_stage_index_find(struct lfs_stage_index *ix, uint32_t id)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].id == id)
			return &ix->e[i];
	return NULL;
}

void lfs_stage_index_remove(struct lfs_stage_index *ix, uint32_t id)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].id == id) {
			free(ix->e[i].label);
			ix->e[i] = ix->e[--ix->n];
			return;
		}
}

void lfs_stage_index_free(struct lfs_stage_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		free(ix->e[i].label);
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}

int lfs_stage_index_parse(const char *text, size_t len, struct lfs_stage_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	size_t ml = strlen(INDEX_MAGIC);
	if (len < ml || memcmp(text, INDEX_MAGIC, ml) != 0 || memchr(text, '\0', len))
		return -EINVAL;
	char *copy = strndup(text + ml, len - ml);
	if (!copy)
		return -ENOMEM;
	int r = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char idhex[16];
		long long created, expires;
		unsigned long long quota, used;
		int end = 0;
		struct lfs_stage_entry e;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%15s %lld %lld %llu %llu%n", idhex, &created, &expires, &quota,
		           &used, &end) != 5 ||
		    line[end] != '\0' || lfs_stage_id_parse(idhex, strlen(idhex), &e.id) < 0 ||
		    created < 0 || expires < 0 || lfs_stage_index_find(ix, e.id)) {
			r = -EINVAL;
			break;
		}
		e.created = created;
		e.expires = expires;
		e.quota = quota;
		e.used = used;
		e.label = NULL;
		r = lfs_stage_index_add(ix, &e);
	}
	free(copy);
	if (r < 0)
		lfs_stage_index_free(ix);
	return r;
}

int lfs_stage_index_load(int sdirfd, struct lfs_stage_index *ix)
{
	unsigned char *data;
	size_t len;
	int r = lfs_read_small_file(sdirfd, LFS_STAGING_INDEX_NAME, INDEX_MAX, &data, &len);
	if (r == -ENOENT) {
		memset(ix, 0, sizeof(*ix));
		return 0;
	}
	if (r < 0)
		return r;
	r = lfs_stage_index_parse((const char *)data, len, ix);
	free(data);
	return r;
}

int lfs_stage_index_store(int sdirfd, const struct lfs_stage_index *ix)
{
	size_t cap = strlen(INDEX_MAGIC) + 128 + ix->n * 96;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t used = (size_t)snprintf(buf, cap,
	                               INDEX_MAGIC "# id created expires quota used (Unix seconds, "
	                                           "plaintext bytes; see docs/FORMAT.md)\n");
	for (size_t i = 0; i < ix->n; i++) {
		const struct lfs_stage_entry *e = &ix->e[i];
		used +=
		    (size_t)snprintf(buf + used, cap - used, "%08" PRIx32 " %lld %lld %llu %llu\n",
		                     e->id, (long long)e->created, (long long)e->expires,
		                     (unsigned long long)e->quota, (unsigned long long)e->used);
	}
	int r = lfs_replace_file(sdirfd, LFS_STAGING_INDEX_NAME, buf, used, 0600);
	free(buf);
	return r;
}

/* ---- key files ---- */

static void key_ad(struct lfs_keyring *kr, const uint8_t *hdr, uint8_t ad[KEY_HDR_LEN + 16])
{
	memcpy(ad, hdr, KEY_HDR_LEN);
	memcpy(ad + KEY_HDR_LEN, kr->uuid, 16);
}

int lfs_stage_key_wrap(struct lfs_keyring *kr, uint32_t id, uint32_t flags, const uint8_t key[32],
                       uint8_t out[LFS_STAGE_KEY_FILE_LEN])
{
	if (flags & ~LFS_STAGE_KEY_FLAGS_KNOWN)
		return -EINVAL;
	uint8_t master[LFS_MASTER_KEY_LEN], wrap[32], ad[KEY_HDR_LEN + 16];
	int r = lfs_keyring_copy_master(kr, master);
	if (r < 0)
		return r;
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_STAGING);
	sodium_memzero(master, sizeof(master));
	memset(out, 0, KEY_HDR_LEN);
	memcpy(out, key_magic, 8);
	put_le32(out + 8, id);
	put_le32(out + 12, flags);
	key_ad(kr, out, ad);
	randombytes_buf(out + KEY_HDR_LEN, 24);
	r = crypto_aead_xchacha20poly1305_ietf_encrypt(out + KEY_HDR_LEN + 24, NULL, key, 32, ad,
	                                               sizeof(ad), NULL, out + KEY_HDR_LEN, wrap);
	sodium_memzero(wrap, sizeof(wrap));
	return r == 0 ? 0 : -EIO;
}

int lfs_stage_key_flags(const uint8_t *in, size_t len, uint32_t id, uint32_t *flags)
{
	if (len != LFS_STAGE_KEY_FILE_LEN || memcmp(in, key_magic, 8) != 0 ||
	    get_le32(in + 8) != id || (get_le32(in + 12) & ~LFS_STAGE_KEY_FLAGS_KNOWN))
		return -EINVAL;
	*flags = get_le32(in + 12);
	return 0;
}

int lfs_stage_key_unwrap(struct lfs_keyring *kr, const uint8_t *in, size_t len, uint32_t id,
                         uint8_t key[32], uint32_t *flags)
{
	uint32_t f;
	if (lfs_stage_key_flags(in, len, id, &f) < 0)
		return -EINVAL;
	uint8_t master[LFS_MASTER_KEY_LEN], wrap[32], ad[KEY_HDR_LEN + 16];
	int r = lfs_keyring_copy_master(kr, master);
	if (r < 0)
		return r;
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_STAGING);
	sodium_memzero(master, sizeof(master));
	key_ad(kr, in, ad);
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL, in + KEY_HDR_LEN + 24, 48,
	                                               ad, sizeof(ad), in + KEY_HDR_LEN, wrap);
	sodium_memzero(wrap, sizeof(wrap));
	if (r == 0 && flags)
		*flags = f;
	return r == 0 ? 0 : -EKEYREJECTED;
}

static void key_name(uint32_t id, char out[16])
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	snprintf(out, 16, "%s.key", hex);
}

/* Whether anything in VAULT/staging carries this id already. */
static bool id_in_use(int sdirfd, uint32_t id)
{
	char hex[9], name[40];
	struct stat st;
	lfs_stage_id_hex(id, hex);
	const char *fmt[] = {"%s", "%s.key", "%s.exp", LFS_STAGE_HIDDEN_PREFIX "%s"};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(name, sizeof(name), fmt[i], hex);
		if (fstatat(sdirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			return true;
	}
	return false;
}

int lfs_stage_new_id(int sdirfd, uint32_t *id)
{
	for (int tries = 0; tries < 64; tries++) {
		*id = randombytes_random() | LFS_STAGING_ID_BIT;
		if (!id_in_use(sdirfd, *id))
			return 0;
	}
	return -EEXIST;
}

int lfs_stage_key_create(int sdirfd, struct lfs_keyring *kr, uint32_t id)
{
	uint8_t key[32], file[LFS_STAGE_KEY_FILE_LEN];
	char name[16];
	key_name(id, name);
	int fd = openat(sdirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	randombytes_buf(key, sizeof(key));
	/* A staging directory made in a format-2 vault is of format 2 for
	 * its whole life (docs/FORMAT.md 14.6): flagged in its key file, which
	 * is authenticated. */
	uint32_t flags = LFS_STAGE_KEY_NEEDS_EXP;
	if (lfs_keyring_format(kr) == 2)
		flags |= LFS_STAGE_KEY_FORMAT2;
	int r = lfs_stage_key_wrap(kr, id, flags, key, file);
	if (r == 0)
		r = lfs_write_all(fd, file, sizeof(file));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && fsync(sdirfd) < 0)
		r = -errno;
	if (r == 0)
		r = lfs_keyring_add_staging(kr, id, key, lfs_stage_key_epoch_flags(flags));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(file, sizeof(file));
	if (r < 0)
		lfs_stage_key_destroy(sdirfd, id);
	return r;
}

int lfs_stage_key_load(int sdirfd, uint32_t id, struct lfs_keyring *kr, uint32_t *flags)
{
	char name[16];
	unsigned char *data;
	size_t len;
	uint8_t key[32];
	uint32_t f = 0;
	key_name(id, name);
	int r = lfs_read_small_file(sdirfd, name, LFS_STAGE_KEY_FILE_LEN + 1, &data, &len);
	if (r == -EFBIG)
		r = -EINVAL;
	if (r == 0) {
		r = lfs_stage_key_unwrap(kr, data, len, id, key, &f);
		free(data);
	}
	if (r == 0)
		r = lfs_keyring_add_staging(kr, id, key, lfs_stage_key_epoch_flags(f));
	if (r == 0 && flags)
		*flags = f;
	sodium_memzero(key, sizeof(key));
	return r;
}

/* A descriptor to write the key file through. Root may write a 0400
 * file; its owner may not until it gives itself write permission, which
 * it may (fchmod needs ownership, not write access). Reopened through
 * /proc/self/fd so that it is the very inode that was checked. */
static int open_for_overwrite(int fd, const struct stat *st)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int w = open(proc, O_WRONLY | O_CLOEXEC);
	if (w < 0 && errno == EACCES && st->st_uid == geteuid()) {
		if (fchmod(fd, 0600) < 0)
			return -errno;
		w = open(proc, O_WRONLY | O_CLOEXEC);
	}
	return w < 0 ? -errno : w;
}

uint32_t lfs_stage_key_epoch_flags(uint32_t key_flags)
{
	return (key_flags & LFS_STAGE_KEY_FORMAT2) ? LFS_EPOCH_FORMAT2 : 0;
}

int lfs_stage_key_destroy(int sdirfd, uint32_t id)
{
	char name[16];
	key_name(id, name);
	int fd = openat(sdirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno != ELOOP)
		return -errno;
	struct stat st;
	int r = 0;
	if (fd >= 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && fd >= 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		/* Overwritten in place first: on storage that rewrites blocks
		 * in place this is the erasure (docs/STAGING.md). A key that
		 * cannot be overwritten is left alone: unlinking it would leave
		 * its bytes on the disk for good, with nothing left that could
		 * still erase them (a run as root can). */
		int w = open_for_overwrite(fd, &st);
		size_t len = st.st_size > 65536 ? 65536 : (size_t)st.st_size;
		uint8_t junk[4096];
		r = w < 0 ? w : 0;
		for (size_t off = 0; r == 0 && off < len; off += sizeof(junk)) {
			size_t n = len - off < sizeof(junk) ? len - off : sizeof(junk);
			randombytes_buf(junk, n);
			r = lfs_pwrite_full(w, junk, n, (off_t)off);
		}
		if (r == 0 && fsync(w) < 0)
			r = -errno;
		if (w >= 0)
			close(w);
	}
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return r;
	/* Anything but a regular file (planted) holds no key: it just goes. */
	if (unlinkat(sdirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	if (fsync(sdirfd) < 0)
		return -errno;
	return 0;
}

/* ---- ciphertext removal ---- */

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

static int removal_entry(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name,
                         void *level)
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

static int sweep_enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name,
                       int dfd, void *level)
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
		    !(hidden || len == 8 || (len == 12 && (!strcmp(nm + 8, ".key") ||
		                                           !strcmp(nm + 8, ".exp")))))
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
