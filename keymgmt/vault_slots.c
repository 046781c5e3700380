/* SPDX-License-Identifier: Apache-2.0 */
/* Read-modify-write of the keyslot file: serialised by a lock file, and
 * written with lfs_replace_file so that a crash leaves the old or the new
 * file, never a mix. */
#define _GNU_SOURCE
#include "vault.h"
#include "kdf.h"
#include "../journal/journal.h"
#include "../cluster/rangelock.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sodium.h>

/* Besides the flock, a byte-range lock on byte 0: cluster filesystems
 * (GlusterFS, CephFS, NFSv4) enforce those between hosts, where a flock may
 * be local to one host (docs/SHARED.md). Both belong to the one open file
 * description, so they never conflict with each other. */
static int lock_across_hosts(int fd, void (*waiting)(void), bool said)
{
	int r = lfs_range_lock(fd, true, 0, 1, false);
	if (r == -EAGAIN) {
		if (waiting && !said)
			waiting();
		r = lfs_range_lock(fd, true, 0, 1, true);
	}
	/* A filesystem without such locks still has the flock. */
	return r == -ENOLCK || r == -EINVAL || r == -EOPNOTSUPP ? 0 : r;
}

int lfs_vault_lock_slots(struct lfs_vault *v, void (*waiting)(void))
{
	int fd =
	    openat(v->dirfd, LFS_LOCK_FILE_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	bool said = false;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK && waiting) {
			waiting();
			said = true;
		}
		/* The holder is another lethefs command; it finishes in seconds. */
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				int e = errno;
				close(fd);
				return -e;
			}
		}
	}
	int r = lock_across_hosts(fd, waiting, said);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

void lfs_vault_unlock_slots(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd); /* closing the only descriptor releases the flock */
}

int lfs_vault_reload_slots(struct lfs_vault *v)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct lfs_keyslots ks;
	int r = lfs_read_small_file(v->dirfd, LFS_KEYSLOTS_FILE_NAME, LFS_KEYSLOTS_FILE_LEN, &buf,
	                            &len);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	r = lfs_keyslots_decode(buf, len, &ks);
	free(buf);
	if (r == 0 && sodium_memcmp(ks.uuid, v->cfg.uuid, LFS_UUID_LEN) != 0)
		r = -EINVAL;
	if (r == 0)
		v->slots = ks;
	return r;
}

/* lfs_replace_file names its temporary ".<name>.tmp.<8 hex>". One that
 * exists while we hold the lock belongs to a change that died. The
 * directory is opened anew: a dup of dirfd would share its offset, left at
 * the end by the previous scan (rekey scans twice), and see no entry. */
static void remove_stale_temporaries_of(int dirfd, const char *prefix, size_t plen)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(dirfd, &err);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, plen))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

static void remove_stale_temporaries(int dirfd)
{
	static const char prefix[] = "." LFS_KEYSLOTS_FILE_NAME ".tmp.";
	remove_stale_temporaries_of(dirfd, prefix, sizeof(prefix) - 1);
}

int lfs_vault_store_slots(struct lfs_vault *v, const struct lfs_keyslots *ks)
{
	uint8_t buf[LFS_KEYSLOTS_FILE_LEN];
	if (sodium_memcmp(ks->uuid, v->cfg.uuid, LFS_UUID_LEN) != 0)
		return -EINVAL;
	remove_stale_temporaries(v->dirfd);
	lfs_keyslots_encode(ks, buf);
	int r = lfs_replace_file(v->dirfd, LFS_KEYSLOTS_FILE_NAME, buf, sizeof(buf), 0600);
	if (r == 0)
		v->slots = *ks;
	return r;
}

void lfs_vault_remove_stale_rekey(struct lfs_vault *v)
{
	static const char prefix[] = "." LFS_KEYRING_NEW_FILE_NAME ".tmp.";
	remove_stale_temporaries_of(v->dirfd, prefix, sizeof(prefix) - 1);
	if (unlinkat(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, 0) == 0)
		fsync(v->dirfd);
}

int lfs_vault_store_rekey(struct lfs_vault *v, const uint8_t *ring, size_t ring_len,
                          const struct lfs_keyslots *ks,
                          const uint8_t new_master[LFS_MASTER_KEY_LEN])
{
	if (ring_len > LFS_JOURNAL_PAYLOAD_MAX)
		return -EINVAL;
	struct lfs_journal j;
	int r = lfs_journal_open(&j, v->dirfd, v->cfg.uuid, true, LFS_JOURNAL_DEF_SLOTS);
	if (r < 0)
		return r;
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	unsigned slot = 0;
	if (!rec || !key)
		r = -ENOMEM;
	if (r == 0) {
		/* Sealed under the NEW master: it authenticates exactly when the
		 * keyslots wrap the new master, i.e. once step 2 is done. */
		lfs_kdf_derive(key, new_master, 1, LFS_KDF_CTX_JOURNAL);
		rec->kind = LFS_JK_KEYRING;
		rec->payload_len = (uint32_t)ring_len;
		memcpy(rec->payload, ring, ring_len);
		r = lfs_journal_begin(&j, key, rec, true, &slot);
	}
	/* A store that fails may have replaced the slots all the same (its
	 * rename done, the directory's fsync failed): the record stays either
	 * way. Under the old slots it does not authenticate and the next
	 * recovery clears it; under the new ones the next unlock installs the
	 * keyring from it (docs/FORMAT.md 12.5). */
	if (r == 0)
		r = lfs_vault_store_slots(v, ks);
	if (r == 0) {
		int e = lfs_replace_file(v->dirfd, LFS_KEYRING_FILE_NAME, ring, ring_len, 0600);
		/* If the keyring cannot be replaced now the record stays: the
		 * next unlock installs the keyring from it. */
		if (e == 0 && lfs_journal_end(&j, slot) == 0)
			lfs_journal_sync(&j);
		r = e;
	}
	sodium_free(key);
	free(rec);
	lfs_journal_close(&j);
	return r;
}

/* The journal record of an interrupted rekey (see lfs_vault_store_rekey),
 * applied where the keyring is opened: the keyslots already wrap the new
 * master, whose keyring sits in the record. */
struct keyring_from_journal {
	struct lfs_vault *v;
	const uint8_t *master;
	struct lfs_keyring *kr;
	bool installed;
};

static int install_keyring(void *arg, const struct lfs_journal_record *r)
{
	struct keyring_from_journal *c = arg;
	if (r->kind != LFS_JK_KEYRING)
		return -EAGAIN; /* not ours: left for lfs_recover */
	if (!c->installed) {
		struct lfs_keyring probe;
		lfs_keyring_init(&probe, c->v->cfg.uuid, c->v->cfg.cipher);
		int e = lfs_keyring_unlock(&probe, c->master, r->payload, r->payload_len);
		lfs_keyring_destroy(&probe);
		if (e < 0)
			return 0; /* authentic yet not a keyring of this master: drop it */
		e = lfs_replace_file(c->v->dirfd, LFS_KEYRING_FILE_NAME, r->payload, r->payload_len,
		                     0600);
		if (e < 0)
			return e;
		c->installed = true;
	}
	return 0;
}

int lfs_vault_finish_rekey(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN])
{
	struct lfs_journal j;
	int r = lfs_journal_open(&j, v->dirfd, v->cfg.uuid, false, 0);
	if (r < 0)
		return r == -ENOENT ? -EKEYREJECTED : r;
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	struct keyring_from_journal c = {.v = v, .master = master};
	unsigned rejected;
	if (!key) {
		lfs_journal_close(&j);
		return -ENOMEM;
	}
	lfs_kdf_derive(key, master, 1, LFS_KDF_CTX_JOURNAL);
	r = lfs_journal_replay(&j, key, install_keyring, &c, &rejected);
	sodium_free(key);
	lfs_journal_close(&j);
	if (r < 0)
		return r;
	return c.installed ? 0 : -EKEYREJECTED;
}
