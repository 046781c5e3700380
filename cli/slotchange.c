/* SPDX-License-Identifier: Apache-2.0 */
/* The read-modify-write cycle shared by every command that changes
 * keyslots. The secret is checked before the lock is taken (so a typo is
 * reported at once and a terminal prompt never holds the lock), and again
 * under the lock only if the slot it opened has changed since. */
#include "cli.h"
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static void slot_bytes(const struct lfs_keyslots *ks, int idx, uint8_t out[LFS_KEYSLOT_LEN])
{
	uint8_t file[LFS_KEYSLOTS_FILE_LEN];
	lfs_keyslots_encode(ks, file);
	memcpy(out, file + LFS_KEYSLOTS_HDR_LEN + (size_t)idx * LFS_KEYSLOT_LEN, LFS_KEYSLOT_LEN);
}

int lfs_change_begin(const char *path, const struct lfs_secret_source *src,
                     struct lfs_slot_change *c)
{
	char err[512];
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->lockfd = -1;
	c->opened = -1;
	c->label_slot = -1;
	enum lfs_vault_error ve = lfs_vault_open(path, &c->v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	int r = lfs_unlock_vault(path, &c->v, src, &c->kr, &c->opened, &c->secret);
	if (r != LFS_EXIT_OK) {
		lfs_vault_close(&c->v);
		return r;
	}
	c->unlocked = true;
	if (c->opened >= 0)
		slot_bytes(&c->v.slots, c->opened, c->opened_bytes);
	return LFS_EXIT_OK;
}

static void say_waiting(void)
{
	fprintf(stderr, "lethefs: another command is changing the keyslots; waiting...\n");
}

/* The slot that opened was replaced or removed while we were not holding
 * the lock: the secret must open the file as it is now, and to the same
 * master key. */
static int recheck(struct lfs_slot_change *c)
{
	uint8_t *got = sodium_malloc(2 * LFS_MASTER_KEY_LEN);
	if (!got) {
		lfs_cli_error("out of memory");
		return LFS_EXIT_ERROR;
	}
	uint8_t *have = got + LFS_MASTER_KEY_LEN;
	int idx = -1;
	int r = lfs_keyslots_unwrap_any(&c->v.slots, c->secret.data, c->secret.len, got, &idx);
	if (r == 0)
		r = lfs_keyring_copy_master(&c->kr, have);
	if (r == 0 && sodium_memcmp(got, have, LFS_MASTER_KEY_LEN) != 0)
		r = -EINVAL;
	sodium_free(got);
	if (r == -EKEYREJECTED) {
		lfs_cli_error("the keyslot your secret opened was changed or removed by another "
		              "command meanwhile; nothing was changed");
		return LFS_EXIT_BAD_SECRET;
	}
	if (r < 0) {
		lfs_cli_error("%s/%s changed meanwhile and no longer matches the keyring", c->path,
		              LFS_KEYSLOTS_FILE_NAME);
		return r == -ENOMEM ? LFS_EXIT_ERROR : LFS_EXIT_CORRUPT;
	}
	c->opened = idx;
	slot_bytes(&c->v.slots, idx, c->opened_bytes);
	return LFS_EXIT_OK;
}

int lfs_change_lock(struct lfs_slot_change *c)
{
	c->lockfd = lfs_vault_lock_slots(&c->v, say_waiting);
	if (c->lockfd < 0) {
		lfs_cli_error("cannot lock %s/%s: %s", c->path, LFS_LOCK_FILE_NAME,
		              strerror(-c->lockfd));
		return LFS_EXIT_ERROR;
	}
	int r = lfs_vault_reload_slots(&c->v);
	if (r < 0) {
		lfs_cli_error("cannot re-read %s/%s: %s", c->path, LFS_KEYSLOTS_FILE_NAME,
		              r == -EINVAL ? "malformed or from another vault" : strerror(-r));
		return r == -EINVAL ? LFS_EXIT_CORRUPT : LFS_EXIT_ERROR;
	}
	if (c->opened < 0)
		return LFS_EXIT_OK; /* a recovery key: checked against the keyring */
	uint8_t now[LFS_KEYSLOT_LEN];
	slot_bytes(&c->v.slots, c->opened, now);
	if (!memcmp(now, c->opened_bytes, LFS_KEYSLOT_LEN))
		return LFS_EXIT_OK;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "The keyslots changed meanwhile; checking the secret again...\n");
	return recheck(c);
}

int lfs_change_wrap(struct lfs_slot_change *c, struct lfs_keyslots *ks, int idx,
                    enum lfs_slot_type type, const struct lfs_secret *s,
                    const struct lfs_kdf_params *kdf)
{
	uint8_t *master = sodium_malloc(LFS_MASTER_KEY_LEN);
	if (!master) {
		lfs_cli_error("out of memory");
		return LFS_EXIT_ERROR;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "Deriving the new key (Argon2id, %llu MiB)...\n",
		        (unsigned long long)(kdf->memlimit >> 20));
	int r = lfs_keyring_copy_master(&c->kr, master);
	if (r == 0)
		r = lfs_keyslot_wrap(ks, idx, type, s->data, s->len, kdf->opslimit, kdf->memlimit,
		                     master);
	sodium_free(master);
	if (r == -ENOMEM) {
		lfs_cli_error("out of memory while deriving the key (Argon2id)");
		return LFS_EXIT_ERROR;
	}
	if (r < 0) {
		lfs_cli_error("cannot wrap the master key: %s", strerror(-r));
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}

static void disk_full(const struct lfs_slot_change *c, const char *file)
{
	lfs_cli_error("the disk holding %s is full: the new %s could not be written; nothing "
	              "was changed (free space and try again)",
	              c->path, file);
}

int lfs_change_store(struct lfs_slot_change *c, const struct lfs_keyslots *ks)
{
	uint8_t key[32];
	struct lfs_slot_labels next;
	int r = lfs_cli_labels_key(&c->kr, key);
	if (r == 0)
		r = lfs_cli_labels_begin(&c->v, key, ks, c->label_slot, c->new_label, &next);
	if (r < 0 && c->new_label) {
		sodium_memzero(key, sizeof(key));
		if (r == -ENOSPC || r == -EDQUOT)
			disk_full(c, LFS_LABELS_FILE_NAME);
		else
			lfs_cli_error("cannot write %s/%s: %s; nothing was changed", c->path,
			              LFS_LABELS_FILE_NAME, strerror(-r));
		return LFS_EXIT_ERROR;
	}
	if (r < 0)
		lfs_cli_error("warning: cannot carry the keyslot labels over: %s", strerror(-r));
	int e = lfs_vault_store_slots(&c->v, ks);
	if (e == -ENOSPC || e == -EDQUOT) {
		sodium_memzero(key, sizeof(key));
		disk_full(c, LFS_KEYSLOTS_FILE_NAME);
		return LFS_EXIT_ERROR;
	}
	if (e < 0) {
		sodium_memzero(key, sizeof(key));
		lfs_cli_error("cannot write %s/%s: %s", c->path, LFS_KEYSLOTS_FILE_NAME,
		              strerror(-e));
		return LFS_EXIT_ERROR;
	}
	if (r == 0)
		lfs_cli_labels_finish(&c->v, key, &next);
	sodium_memzero(key, sizeof(key));
	return LFS_EXIT_OK;
}

const char *lfs_change_label_of(struct lfs_slot_change *c, int idx, char out[LFS_LABEL_MAX + 1])
{
	uint8_t key[32];
	struct lfs_slot_labels l;
	out[0] = '\0';
	if (lfs_cli_labels_key(&c->kr, key) == 0) {
		lfs_cli_labels_load(&c->v, key, &l);
		const struct lfs_slot_label *found = lfs_labels_find(&l, &c->v.slots, idx, true);
		if (found)
			memcpy(out, found->text, strlen(found->text) + 1);
	}
	sodium_memzero(key, sizeof(key));
	return out;
}

void lfs_change_end(struct lfs_slot_change *c)
{
	lfs_vault_unlock_slots(c->lockfd);
	c->lockfd = -1;
	lfs_secret_free(&c->secret);
	if (c->unlocked)
		lfs_keyring_destroy(&c->kr);
	c->unlocked = false;
	lfs_vault_close(&c->v);
}
