/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes format 2's inode records (fs/irec.c) and the payload of a
 * conversion record (rotation/upconvert.h). The first byte picks the mode
 * (fuzz_common.h):
 *
 *   RAW      a plaintext record: strict decoding; what decodes encodes
 *            back to the same bytes and seals and opens to itself;
 *   SEALED   32 bytes of associated data and a sealed record, opened under
 *            the fixed inode key: what opens is well-formed, re-seals and
 *            reopens to itself, and fails under other associated data;
 *   PAYLOAD  a conversion record's payload: what decodes encodes back to
 *            the same bytes. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../fs/irec.h"
#include "../../rotation/upconvert.h"

FZ_DEFINE_INIT

static void check_valid(const struct lfs_irec *r)
{
	FZ_CHECK(r->type >= LFS_IREC_REG && r->type <= LFS_IREC_BLK);
	FZ_CHECK((r->mode & ~07777u) == 0 && r->flags == 0);
	FZ_CHECK(lfs_irec_ifmt(r->type) != 0);
	FZ_CHECK(lfs_irec_type_of(lfs_irec_ifmt(r->type)) == r->type);
	struct stat st;
	memset(&st, 0, sizeof(st));
	lfs_irec_to_stat(r, &st);
	FZ_CHECK((st.st_mode & 07777) == r->mode && st.st_uid == r->uid && st.st_gid == r->gid);
}

static void reseal(const uint8_t key[32], const uint8_t ad[32], const struct lfs_irec *r)
{
	uint8_t sealed[LFS_IREC_SEALED_LEN], ad2[32];
	struct lfs_irec back;
	FZ_CHECK(lfs_irec_seal(key, ad, r, sealed) == 0);
	FZ_CHECK(lfs_irec_open(key, ad, sealed, &back) == 0);
	FZ_CHECK(memcmp(&back, r, sizeof(back)) == 0);
	memcpy(ad2, ad, 32);
	ad2[31] ^= 1;
	FZ_CHECK(lfs_irec_open(key, ad2, sealed, &back) == -EBADMSG);
}

static void raw(const uint8_t *d, size_t n)
{
	struct lfs_irec r;
	uint8_t again[LFS_IREC_LEN], key[32], ad[32] = {0};
	if (lfs_irec_decode(d, n, &r) != 0)
		return;
	check_valid(&r);
	lfs_irec_encode(&r, again);
	FZ_CHECK(n == LFS_IREC_LEN && memcmp(again, d, n) == 0);
	fz_key(key, sizeof(key), FZ_SEED_INODE);
	reseal(key, ad, &r);
}

static void sealed(const uint8_t *d, size_t n)
{
	struct lfs_irec r;
	uint8_t key[32];
	if (n != LFS_IREC_AD_LEN + LFS_IREC_SEALED_LEN)
		return;
	fz_key(key, sizeof(key), FZ_SEED_INODE);
	int e = lfs_irec_open(key, d, d + LFS_IREC_AD_LEN, &r);
	FZ_CHECK(e == 0 || e == -EBADMSG || e == -EINVAL);
	if (e == 0) {
		check_valid(&r);
		reseal(key, d, &r);
	}
}

static void payload(const uint8_t *d, size_t n)
{
	struct lfs_up_payload p;
	uint8_t again[LFS_UP_PAYLOAD_LEN];
	if (lfs_up_payload_decode(d, n, &p) != 0)
		return;
	FZ_CHECK(n == LFS_UP_PAYLOAD_LEN);
	FZ_CHECK(strlen(p.tmp_name) == LFS_UP_TMP_NAME_LEN);
	lfs_up_payload_encode(&p, again);
	FZ_CHECK(memcmp(again, d, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0]) {
	case FZ_IREC_RAW:
		raw(data + 1, size - 1);
		break;
	case FZ_IREC_SEALED:
		sealed(data + 1, size - 1);
		break;
	case FZ_IREC_PAYLOAD:
		payload(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
