/* Fuzzes the staging parsers: the vault's staging index (a text file any
 * writer of the backing store controls) and a staging key file. First
 * byte: 0 index, 1 key file. An accepted index must survive a store and a
 * second parse unchanged; a key file opens only when it authenticates. */
#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../common/fileutil.h"
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
	uint32_t id = len >= 12 ? (uint32_t)in[8] | (uint32_t)in[9] << 8 |
					  (uint32_t)in[10] << 16 | (uint32_t)in[11] << 24
				: LFS_STAGING_ID_BIT;
	uint32_t flags = 0, flags2 = 0;
	int r = lfs_stage_key_unwrap(&kr, in, len, id, key, &flags);
	FZ_CHECK(r == 0 || r == -EINVAL || r == -EKEYREJECTED);
	if (r == 0) {
		/* Authenticated: re-wrapping and unwrapping gives the same key
		 * and flags, and the flags are known ones. */
		uint8_t file[LFS_STAGE_KEY_FILE_LEN], again[32];
		FZ_CHECK((flags & ~LFS_STAGE_KEY_FLAGS) == 0);
		FZ_CHECK(lfs_stage_key_wrap(&kr, id, flags, key, file) == 0);
		FZ_CHECK(lfs_stage_key_unwrap(&kr, file, sizeof(file), id, again, &flags2) == 0);
		FZ_CHECK(memcmp(key, again, 32) == 0 && flags2 == flags);
	}
	lfs_keyring_destroy(&kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_index((const char *)data + 1, size - 1);
	else
		fuzz_key(data + 1, size - 1);
	return 0;
}
