/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "stage_store.h"
#include "../keymgmt/kdf.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

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
