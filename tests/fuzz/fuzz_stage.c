/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the staging parsers, all of them files any writer of the backing
 * store controls: the index, a key file, a retention record and the
 * clock's mark (vault and host forms). First byte mod 4: 0 index, 1 key
 * file, 2 retention record, 3 clock. An accepted index or clock must
 * survive a store (format) and a second parse unchanged; a key file or a
 * record authenticates only as written. */
#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../common/fileutil.h"
#include "../../staging/stage_clock.h"
#include "../../staging/stage_exp.h"
#include "../../staging/stage_store.h"

FZ_DEFINE_INIT

static void fuzz_index(const char *in, size_t len)
{
	struct lfs_stage_index ix, back;
	int r = lfs_stage_index_parse(in, len, &ix);
	FZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r != 0)
		return;
	char dir[] = "/tmp/fuzz-stage.XXXXXX";
	FZ_CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	FZ_CHECK(dfd >= 0);
	FZ_CHECK(lfs_stage_index_store(dfd, &ix) == 0);
	FZ_CHECK(lfs_stage_index_load(dfd, &back) == 0);
	FZ_CHECK(back.n == ix.n);
	for (size_t i = 0; i < ix.n; i++) {
		FZ_CHECK(back.e[i].id == ix.e[i].id && back.e[i].expires == ix.e[i].expires);
		FZ_CHECK(back.e[i].created == ix.e[i].created && back.e[i].quota == ix.e[i].quota);
		FZ_CHECK(back.e[i].id & LFS_STAGING_ID_BIT);
	}
	unlinkat(dfd, LFS_STAGING_INDEX_NAME, 0);
	close(dfd);
	rmdir(dir);
	lfs_stage_index_free(&back);
	lfs_stage_index_free(&ix);
}

static void fuzz_key(const uint8_t *in, size_t len)
{
	uint8_t master[LFS_MASTER_KEY_LEN], uuid[LFS_UUID_LEN], key[32];
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	struct lfs_keyring kr;
	lfs_keyring_init(&kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	FZ_CHECK(lfs_keyring_generate(&kr, 2) == 0);
	/* The generated master is random; the fixed one is what seeds use. */
	FZ_CHECK(lfs_keyring_set_master(&kr, master) == 0);
	uint32_t id = len >= 12 ? (uint32_t)in[8] | (uint32_t)in[9] << 8 | (uint32_t)in[10] << 16 |
	                              (uint32_t)in[11] << 24
	                        : LFS_STAGING_ID_BIT;
	uint32_t flags = 0, flags2 = 0;
	int r = lfs_stage_key_unwrap(&kr, in, len, id, key, &flags);
	FZ_CHECK(r == 0 || r == -EINVAL || r == -EKEYREJECTED);
	if (r == 0) {
		/* Authenticated: re-wrapping and unwrapping gives the same key
		 * and flags, and the flags are known ones. */
		uint8_t file[LFS_STAGE_KEY_FILE_LEN], again[32];
		FZ_CHECK((flags & ~LFS_STAGE_KEY_FLAGS_KNOWN) == 0);
		FZ_CHECK(lfs_stage_key_wrap(&kr, id, flags, key, file) == 0);
		FZ_CHECK(lfs_stage_key_unwrap(&kr, file, sizeof(file), id, again, &flags2) == 0);
		FZ_CHECK(memcmp(key, again, 32) == 0 && flags2 == flags);
	}
	lfs_keyring_destroy(&kr);
}

static void fuzz_record(const uint8_t *in, size_t len)
{
	uint8_t master[LFS_MASTER_KEY_LEN], uuid[LFS_UUID_LEN];
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	struct lfs_keyring kr;
	lfs_keyring_init(&kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	FZ_CHECK(lfs_keyring_generate(&kr, 2) == 0);
	FZ_CHECK(lfs_keyring_set_master(&kr, master) == 0);
	uint32_t id = len >= 12 ? (uint32_t)in[8] | (uint32_t)in[9] << 8 | (uint32_t)in[10] << 16 |
	                              (uint32_t)in[11] << 24
	                        : LFS_STAGING_ID_BIT;
	struct lfs_stage_exp e;
	int r = lfs_stage_exp_parse(in, len, id, &e);
	FZ_CHECK(r == 0 || r == -EINVAL);
	int v = lfs_stage_exp_verify(&kr, in, len);
	FZ_CHECK(v == 0 || v == -EBADMSG);
	if (r == 0) {
		FZ_CHECK(e.created >= 0 && e.expires >= 0 && e.id == id);
		/* Re-encoded under the key: the same bytes iff it verified. */
		uint8_t again[LFS_STAGE_EXP_LEN];
		lfs_stage_exp_encode(&kr, &e, again);
		FZ_CHECK(lfs_stage_exp_verify(&kr, again, sizeof(again)) == 0);
		FZ_CHECK((memcmp(again, in, sizeof(again)) == 0) == (v == 0));
	}
	lfs_keyring_destroy(&kr);
}

static void fuzz_clock(const char *in, size_t len)
{
	int64_t mark, boot;
	char id[LFS_STAGE_CLOCK_BOOT_ID], out[256];
	if (lfs_stage_clock_parse(in, len, &mark, NULL, NULL) == 0) {
		FZ_CHECK(mark >= 0);
		int n = lfs_stage_clock_format(out, sizeof(out), mark, NULL, NULL);
		FZ_CHECK(n > 0 && (size_t)n == len && memcmp(out, in, len) == 0);
	}
	if (lfs_stage_clock_parse(in, len, &mark, &boot, id) == 0) {
		FZ_CHECK(mark >= 0 && boot >= 0 && strlen(id) == LFS_STAGE_CLOCK_BOOT_ID - 1);
		int n = lfs_stage_clock_format(out, sizeof(out), mark, &boot, id);
		FZ_CHECK(n > 0 && (size_t)n == len && memcmp(out, in, len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_index((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_key(data + 1, size - 1);
		break;
	case 2:
		fuzz_record(data + 1, size - 1);
		break;
	default:
		fuzz_clock((const char *)data + 1, size - 1);
	}
	return 0;
}
