/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "stage_exp.h"
#include "stage_store.h"
#include "../keymgmt/kdf.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t exp_magic[8] = {'L', 'T', 'H', 'S', 'T', 'E', '0', '1'};
#define EXP_BODY_LEN 48
#define EXP_LABEL    "lethefs staging retention v1"

static void exp_name(uint32_t id, char out[16])
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	snprintf(out, 16, "%s.exp", hex);
}

/* mac = BLAKE2b-256(key = KDF(master, 1, "lfstex01"), label NUL || uuid || body) */
static int exp_mac(struct lfs_keyring *kr, const uint8_t body[EXP_BODY_LEN], uint8_t mac[32])
{
	uint8_t master[LFS_MASTER_KEY_LEN], key[32];
	int r = lfs_keyring_copy_master(kr, master);
	if (r < 0)
		return r;
	lfs_kdf_derive(key, master, 1, LFS_KDF_CTX_STAGEXP);
	sodium_memzero(master, sizeof(master));
	crypto_generichash_state h;
	crypto_generichash_init(&h, key, sizeof(key), 32);
	crypto_generichash_update(&h, (const uint8_t *)EXP_LABEL, sizeof(EXP_LABEL));
	crypto_generichash_update(&h, kr->uuid, LFS_UUID_LEN);
	crypto_generichash_update(&h, body, EXP_BODY_LEN);
	crypto_generichash_final(&h, mac, 32);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&h, sizeof(h));
	return 0;
}

void lfs_stage_exp_encode(struct lfs_keyring *kr, const struct lfs_stage_exp *e,
                          uint8_t out[LFS_STAGE_EXP_LEN])
{
	memset(out, 0, LFS_STAGE_EXP_LEN);
	memcpy(out, exp_magic, 8);
	put_le32(out + 8, e->id);
	put_le32(out + 12, e->owner);
	put_le64(out + 16, (uint64_t)e->created);
	put_le64(out + 24, (uint64_t)e->expires);
	put_le64(out + 32, e->quota);
	if (kr && exp_mac(kr, out, out + EXP_BODY_LEN) < 0)
		memset(out + EXP_BODY_LEN, 0, 32);
}

int lfs_stage_exp_parse(const uint8_t *in, size_t len, uint32_t id, struct lfs_stage_exp *e)
{
	if (len != LFS_STAGE_EXP_LEN || memcmp(in, exp_magic, 8) != 0 || get_le32(in + 8) != id ||
	    !sodium_is_zero(in + 40, 8))
		return -EINVAL;
	int64_t created = (int64_t)get_le64(in + 16), expires = (int64_t)get_le64(in + 24);
	if (created < 0 || expires < 0)
		return -EINVAL;
	e->id = id;
	e->owner = get_le32(in + 12);
	e->created = created;
	e->expires = expires;
	e->quota = get_le64(in + 32);
	return 0;
}

int lfs_stage_exp_verify(struct lfs_keyring *kr, const uint8_t *in, size_t len)
{
	uint8_t mac[32];
	if (len != LFS_STAGE_EXP_LEN)
		return -EBADMSG;
	int r = exp_mac(kr, in, mac);
	if (r < 0)
		return r;
	r = sodium_memcmp(mac, in + EXP_BODY_LEN, 32) == 0 ? 0 : -EBADMSG;
	sodium_memzero(mac, sizeof(mac));
	return r;
}

int lfs_stage_exp_store(int sdirfd, struct lfs_keyring *kr, const struct lfs_stage_exp *e)
{
	uint8_t buf[LFS_STAGE_EXP_LEN];
	char name[16];
	exp_name(e->id, name);
	lfs_stage_exp_encode(kr, e, buf);
	return lfs_replace_file(sdirfd, name, buf, sizeof(buf), 0600);
}

int lfs_stage_exp_load(int sdirfd, uint32_t id, struct lfs_stage_exp *e,
                       uint8_t raw[LFS_STAGE_EXP_LEN])
{
	char name[16];
	unsigned char *data;
	size_t len;
	exp_name(id, name);
	int r = lfs_read_small_file(sdirfd, name, LFS_STAGE_EXP_LEN + 1, &data, &len);
	if (r == -EFBIG)
		return -EINVAL;
	if (r < 0)
		return r;
	r = lfs_stage_exp_parse(data, len, id, e);
	if (r == 0 && raw)
		memcpy(raw, data, LFS_STAGE_EXP_LEN);
	free(data);
	return r;
}

int lfs_stage_exp_remove(int sdirfd, uint32_t id)
{
	char name[16];
	exp_name(id, name);
	return unlinkat(sdirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}
