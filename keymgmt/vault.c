/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "vault.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define CONFIG_MAX 65536

static enum lfs_vault_error vault_open(const char *path, struct lfs_vault *v, char *err,
                                       size_t errlen, bool staging_only)
{
	memset(v, 0, sizeof(*v));
	v->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0) {
		snprintf(err, errlen, "cannot open vault %s: %s", path, strerror(errno));
		return errno == ENOENT || errno == ENOTDIR ? LFS_VAULT_MISSING : LFS_VAULT_SYSTEM;
	}
	v->path = strdup(path);

	unsigned char *text = NULL;
	size_t len = 0;
	int r = lfs_read_small_file(v->dirfd, LFS_CONFIG_FILE_NAME, CONFIG_MAX, &text, &len);
	if (r == -ENOENT) {
		snprintf(err, errlen, "%s is not a lethefs vault (no %s)", path,
		         LFS_CONFIG_FILE_NAME);
		lfs_vault_close(v);
		return LFS_VAULT_MISSING;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s/%s: %s", path, LFS_CONFIG_FILE_NAME,
		         strerror(-r));
		lfs_vault_close(v);
		return LFS_VAULT_CORRUPT;
	}
	char why[300];
	r = staging_only
	        ? lfs_config_parse_staging((const char *)text, len, &v->cfg, why, sizeof(why))
	        : lfs_config_parse((const char *)text, len, &v->cfg, why, sizeof(why));
	free(text);
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", path, LFS_CONFIG_FILE_NAME, why);
		lfs_vault_close(v);
		return LFS_VAULT_CORRUPT;
	}

	unsigned char *slots = NULL;
	r = lfs_read_small_file(v->dirfd, LFS_KEYSLOTS_FILE_NAME, LFS_KEYSLOTS_FILE_LEN, &slots,
	                        &len);
	if (r == 0) {
		r = lfs_keyslots_decode(slots, len, &v->slots);
		free(slots);
	}
	if ((r < 0 || sodium_memcmp(v->slots.uuid, v->cfg.uuid, 16) != 0) && !staging_only) {
		snprintf(err, errlen, "%s/%s is missing, malformed or belongs to another vault",
		         path, LFS_KEYSLOTS_FILE_NAME);
		lfs_vault_close(v);
		return LFS_VAULT_CORRUPT;
	}
	return LFS_VAULT_OK;
}

enum lfs_vault_error lfs_vault_open(const char *path, struct lfs_vault *v, char *err, size_t errlen)
{
	return vault_open(path, v, err, errlen, false);
}

enum lfs_vault_error lfs_vault_open_for_staging(const char *path, struct lfs_vault *v, char *err,
                                                size_t errlen)
{
	return vault_open(path, v, err, errlen, true);
}

void lfs_vault_close(struct lfs_vault *v)
{
	if (v->dirfd >= 0)
		close(v->dirfd);
	v->dirfd = -1;
	free(v->path);
	v->path = NULL;
}

static int unlock_file(struct lfs_vault *v, const char *name,
                       const uint8_t master[LFS_MASTER_KEY_LEN], struct lfs_keyring *kr)
{
	unsigned char *file = NULL;
	size_t flen;
	int r = lfs_read_small_file(v->dirfd, name, LFS_KEYRING_MAX_FILE_LEN, &file, &flen);
	if (r < 0)
		return -EINVAL;
	r = lfs_keyring_unlock(kr, master, file, flen);
	free(file);
	return r;
}

/* Opens the keyring file under master. -EKEYREJECTED when it does not
 * authenticate, -EINVAL when it is missing or malformed.
 *
 * A rekey killed between replacing the keyslots and renaming
 * lethefs.keyring.new over lethefs.keyring leaves slots that wrap the new
 * master and a keyring sealed under the old one: when the keyring does not
 * open but lethefs.keyring.new does, this finishes the rename (best
 * effort: the keys are used either way). */
static int open_keyring_file(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN],
                             struct lfs_keyring *kr)
{
	int r = unlock_file(v, LFS_KEYRING_FILE_NAME, master, kr);
	if (r != -EKEYREJECTED)
		return r;
	/* A rekey killed after it replaced the keyslots (vault_slots.c). */
	if (lfs_vault_finish_rekey(v, master) == 0)
		return unlock_file(v, LFS_KEYRING_FILE_NAME, master, kr);
	/* The same, as rekeys of older versions left it. */
	if (unlock_file(v, LFS_KEYRING_NEW_FILE_NAME, master, kr) != 0)
		return r;
	if (renameat(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, v->dirfd, LFS_KEYRING_FILE_NAME) == 0)
		fsync(v->dirfd);
	return 0;
}

/* The format is the keyring's (authenticated): format 2 exactly when its
 * current epoch is of format 2. A config that claims format 2 for a
 * format-1 keyring was edited (a downgrade would be the attack; this is
 * the other direction, refused all the same); one that still says 1 for a
 * format-2 keyring is the last step of an upgrade cut short. */
static int open_keyring(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN],
                        struct lfs_keyring *kr)
{
	int r = open_keyring_file(v, master, kr);
	if (r < 0)
		return r;
	int fmt = lfs_keyring_format(kr);
	if (fmt == 1 && v->cfg.format == 2) {
		lfs_keyring_lock(kr);
		return -EINVAL;
	}
	if (fmt == 2 && v->cfg.format == 1) {
		v->cfg.format = 2;
		v->format_stale = true;
	}
	return 0;
}

int lfs_vault_store_format(struct lfs_vault *v)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int r = lfs_read_small_file(v->dirfd, LFS_CONFIG_FILE_NAME, CONFIG_MAX, &text, &len);
	if (r < 0)
		return r;
	char *out = malloc(len + 16);
	int n = out ? lfs_config_set_format((const char *)text, len, v->cfg.format, out, len + 16)
	            : -ENOMEM;
	free(text);
	if (n >= 0)
		n = lfs_replace_file(v->dirfd, LFS_CONFIG_FILE_NAME, out, (size_t)n, 0600);
	free(out);
	if (n == 0)
		v->format_stale = false;
	return n < 0 ? n : 0;
}

int lfs_vault_unlock(struct lfs_vault *v, const void *secret, size_t len, struct lfs_keyring *kr,
                     int *slot)
{
	uint8_t *master = sodium_malloc(LFS_MASTER_KEY_LEN);
	if (!master)
		return -ENOMEM;
	lfs_keyring_init(kr, v->cfg.uuid, v->cfg.cipher);
	/* Every path that installs keys (a direct mount, an unlock through
	 * the control socket) stops here on a CPU that cannot run the
	 * vault's cipher, before any key exists. */
	if (!lfs_cipher_available(v->cfg.cipher)) {
		sodium_free(master);
		return -ENOTSUP;
	}
	int r = lfs_keyslots_unwrap_any(&v->slots, secret, len, master, slot);
	if (r == 0) {
		r = open_keyring(v, master, kr);
		/* The passphrase was right (a slot opened): a keyring that then
		 * fails to authenticate is corruption, not a wrong secret. */
		if (r == -EKEYREJECTED)
			r = -EINVAL;
	}
	sodium_free(master);
	return r;
}

int lfs_vault_unlock_master(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN],
                            struct lfs_keyring *kr)
{
	lfs_keyring_init(kr, v->cfg.uuid, v->cfg.cipher);
	if (!lfs_cipher_available(v->cfg.cipher))
		return -ENOTSUP; /* as in lfs_vault_unlock */
	/* No slot vouches for this key: the keyring's tag is the only check,
	 * so a failure here is a wrong key (-EKEYREJECTED), not corruption. */
	return open_keyring(v, master, kr);
}

static int dir_is_empty(int dirfd)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int empty = 1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static int write_data_root(int vfd, struct lfs_keyring *kr, lfs_vault_root_fn make_root)
{
	if (mkdirat(vfd, LFS_DATA_DIR_NAME, 0700) < 0)
		return -errno;
	int dfd = openat(vfd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = make_root(dfd, kr);
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

static int write_vault_files(int vfd, const struct lfs_vault_config *cfg, struct lfs_keyring *kr,
                             enum lfs_slot_type slot_type, const void *secret, size_t len,
                             const struct lfs_kdf_params *kdf, lfs_vault_root_fn make_root)
{
	struct lfs_keyslots ks;
	memset(&ks, 0, sizeof(ks));
	memcpy(ks.uuid, cfg->uuid, 16);
	uint8_t master[LFS_MASTER_KEY_LEN];
	int r = lfs_keyring_copy_master(kr, master);
	if (r == 0)
		r = lfs_keyslot_wrap(&ks, 0, slot_type, secret, len, kdf->opslimit, kdf->memlimit,
		                     master);
	sodium_memzero(master, sizeof(master));
	if (r < 0)
		return r;

	uint8_t ring[LFS_KEYRING_MAX_FILE_LEN];
	size_t ring_len;
	uint8_t slots[LFS_KEYSLOTS_FILE_LEN];
	char conf[1024];
	if ((r = lfs_keyring_seal(kr, ring, &ring_len)) < 0)
		return r;
	lfs_keyslots_encode(&ks, slots);
	int conf_len = lfs_config_format(cfg, conf, sizeof(conf));
	if (conf_len < 0)
		return conf_len;
	if ((r = write_data_root(vfd, kr, make_root)) < 0)
		return r;
	if ((r = lfs_replace_file(vfd, LFS_KEYRING_FILE_NAME, ring, ring_len, 0600)) < 0)
		return r;
	if ((r = lfs_replace_file(vfd, LFS_KEYSLOTS_FILE_NAME, slots, sizeof(slots), 0600)) < 0)
		return r;
	/* The config is written last: its presence is what makes a vault. */
	return lfs_replace_file(vfd, LFS_CONFIG_FILE_NAME, conf, (size_t)conf_len, 0600);
}

int lfs_vault_create(const char *path, int format, enum lfs_cipher_id cipher,
                     enum lfs_slot_type slot_type, const void *secret, size_t len,
                     const struct lfs_kdf_params *kdf, lfs_vault_root_fn make_root, char *err,
                     size_t errlen)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	int vfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	int r = dir_is_empty(vfd);
	if (r <= 0) {
		if (faccessat(vfd, LFS_CONFIG_FILE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			snprintf(err, errlen, "%s already holds a lethefs vault", path);
		else
			snprintf(err, errlen,
			         "%s is not empty; lethefs init needs an empty "
			         "or new directory",
			         path);
		close(vfd);
		return -EEXIST;
	}

	struct lfs_vault_config cfg = {.format = format, .cipher = cipher};
	randombytes_buf(cfg.uuid, sizeof(cfg.uuid));
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(cfg.created, sizeof(cfg.created), "%Y-%m-%dT%H:%M:%SZ", &tm);

	struct lfs_keyring kr;
	lfs_keyring_init(&kr, cfg.uuid, cipher);
	r = lfs_keyring_generate(&kr, format);
	if (r == 0)
		r = write_vault_files(vfd, &cfg, &kr, slot_type, secret, len, kdf, make_root);
	lfs_keyring_destroy(&kr);
	if (r == 0 && fsync(vfd) < 0)
		r = -errno;
	close(vfd);
	if (r < 0)
		snprintf(err, errlen, "cannot create vault in %s: %s", path, strerror(-r));
	return r;
}
