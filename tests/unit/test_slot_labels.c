/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for keyslot labels (keymgmt/slot_labels.c): the byte format
 * (a known-answer MAC computed independently with Python's hashlib), the
 * strict decoder, what a writer of the vault directory can and cannot do
 * (relabel, move, resurrect for a replaced slot), and label validation. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../keymgmt/kdf.h"
#include "../../keymgmt/slot_labels.h"

static const uint8_t UUID[16] = {0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

static void test_known_answer(void **state)
{
	(void)state;
	uint8_t key[32], hash[32], buf[LFS_LABELS_FILE_MAX];
	struct lfs_slot_labels l = {0};
	test_fill(key, 32, 0);
	memset(hash, 0xaa, 32);
	assert_int_equal(lfs_labels_put(&l, 1, hash, "Dr. X"), 0);
	int n = lfs_labels_encode(&l, UUID, key, buf);
	assert_int_equal(n, 32 + 68 + 5);
	assert_memory_equal(buf, "LETHELB1\x01\x00\x01\x00\x00\x00\x00\x00", 16);
	assert_memory_equal(buf + 16, UUID, 16);
	assert_memory_equal(buf + 32, "\x01\x05\x00\x00", 4);
	assert_memory_equal(buf + 36, hash, 32);
	assert_memory_equal(buf + 68, "Dr. X", 5);
	assert_hex_equal(buf + 73, 32,
	                 "27cb1b0d3442fdda7a1bd212265bd2cf389b34a9aae8d3b47c239a206ae2818a");
	struct lfs_slot_labels back;
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &back), 0);
	assert_int_equal(back.n, 1);
	assert_true(back.rec[0].verified);
	assert_string_equal(back.rec[0].text, "Dr. X");
	/* Without a key: read, not verified. */
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, NULL, &back), 0);
	assert_false(back.rec[0].verified);
}

static void test_strict_decoder(void **state)
{
	(void)state;
	uint8_t key[32] = {3}, hash[32] = {0}, buf[LFS_LABELS_FILE_MAX], bad[LFS_LABELS_FILE_MAX];
	struct lfs_slot_labels l = {0}, out;
	assert_int_equal(lfs_labels_put(&l, 0, hash, "a"), 0);
	assert_int_equal(lfs_labels_put(&l, 7, hash, "bb"), 0);
	int n = lfs_labels_encode(&l, UUID, key, buf);
	assert_true(n > 0);
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_int_equal(out.n, 2);
	/* Every single-field damage is refused outright. */
	const size_t offs[] = {0, 8, 10, 12, 16, 32, 33, 34};
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		memcpy(bad, buf, (size_t)n);
		bad[offs[i]] ^= 0x40;
		assert_int_equal(lfs_labels_decode(bad, (size_t)n, UUID, key, &out), -EINVAL);
	}
	assert_int_equal(lfs_labels_decode(buf, (size_t)n - 1, UUID, key, &out), -EINVAL);
	assert_int_equal(lfs_labels_decode(buf, 31, UUID, key, &out), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	assert_int_equal(lfs_labels_decode(bad, (size_t)n + 1, UUID, key, &out), -EINVAL);
	/* A control character in a label. */
	memcpy(bad, buf, (size_t)n);
	bad[68] = '\n';
	assert_int_equal(lfs_labels_decode(bad, (size_t)n, UUID, key, &out), -EINVAL);
	/* Another vault's file. */
	uint8_t other[16];
	memcpy(other, UUID, 16);
	other[0] ^= 1;
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, other, key, &out), -EINVAL);
	/* The text edited within the rules: decodes, does not verify. */
	memcpy(bad, buf, (size_t)n);
	bad[68] = 'z';
	assert_int_equal(lfs_labels_decode(bad, (size_t)n, UUID, key, &out), 0);
	assert_false(out.rec[0].verified);
	assert_true(out.rec[1].verified);
}

static void slots_with(struct lfs_keyslots *ks, uint8_t fill)
{
	memset(ks, 0, sizeof(*ks));
	memcpy(ks->uuid, UUID, 16);
	for (int i = 0; i < 3; i++) {
		ks->slot[i].type = LFS_SLOT_PASSPHRASE;
		ks->slot[i].kdf_alg = LFS_KDF_ARGON2ID13;
		ks->slot[i].opslimit = 1;
		ks->slot[i].memlimit = 8192;
		memset(ks->slot[i].salt, fill + i, 16);
	}
}

/* The attacks: a label moved to another slot, an old record after the
 * slot was replaced, a record under another key. */
static void test_binding(void **state)
{
	(void)state;
	uint8_t key[32] = {9}, h[32];
	struct lfs_keyslots ks, replaced;
	struct lfs_slot_labels l = {0};
	slots_with(&ks, 0x10);
	lfs_slot_hash(h, &ks, 1);
	assert_int_equal(lfs_labels_put(&l, 1, h, "Dr. X"), 0);
	uint8_t buf[LFS_LABELS_FILE_MAX];
	int n = lfs_labels_encode(&l, UUID, key, buf);
	struct lfs_slot_labels out;
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_string_equal(lfs_labels_find(&out, &ks, 1, true)->text, "Dr. X");
	assert_null(lfs_labels_find(&out, &ks, 2, false));
	/* Moved to slot 2 (the index byte): its MAC fails, and slot 2's bytes
	 * are not slot 1's anyway. */
	buf[32] = 2;
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_null(lfs_labels_find(&out, &ks, 2, false));
	assert_null(lfs_labels_find(&out, &ks, 1, false));
	buf[32] = 1;
	/* Slot 1 replaced (new salt): the old record no longer applies. */
	slots_with(&replaced, 0x10);
	memset(replaced.slot[1].salt, 0x77, 16);
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_null(lfs_labels_find(&out, &replaced, 1, false));
	/* Another key: not verified, so not used where verification counts. */
	key[0] ^= 1;
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_null(lfs_labels_find(&out, &ks, 1, true));
	assert_non_null(lfs_labels_find(&out, &ks, 1, false));
	/* An empty slot has no label, whatever the file says. */
	ks.slot[1].type = LFS_SLOT_EMPTY;
	assert_null(lfs_labels_find(&out, &ks, 1, false));
}

static void test_put_and_limits(void **state)
{
	(void)state;
	struct lfs_slot_labels l = {0};
	uint8_t h[32] = {0};
	char big[LFS_LABEL_MAX + 2];
	memset(big, 'x', sizeof(big));
	big[LFS_LABEL_MAX] = '\0';
	assert_int_equal(lfs_labels_put(&l, 0, h, big), 0);
	big[LFS_LABEL_MAX] = 'x';
	big[LFS_LABEL_MAX + 1] = '\0';
	assert_int_equal(lfs_labels_put(&l, 0, h, big), -EINVAL);
	/* Same slot and bytes: replaced, not added. */
	assert_int_equal(lfs_labels_put(&l, 0, h, "new"), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rec[0].text, "new");
	for (int i = 1; i < LFS_LABELS_MAX; i++) {
		h[0] = (uint8_t)i;
		assert_int_equal(lfs_labels_put(&l, i % 8, h, "x"), 0);
	}
	h[0] = 0xff;
	assert_int_equal(lfs_labels_put(&l, 0, h, "x"), -ENOSPC);
	/* The largest file fits the buffer and decodes. */
	uint8_t buf[LFS_LABELS_FILE_MAX], key[32] = {0};
	int n = lfs_labels_encode(&l, UUID, key, buf);
	struct lfs_slot_labels out;
	assert_true(n > 0 && n <= LFS_LABELS_FILE_MAX);
	assert_int_equal(lfs_labels_decode(buf, (size_t)n, UUID, key, &out), 0);
	assert_int_equal(out.n, LFS_LABELS_MAX);
}

static void test_label_validation(void **state)
{
	(void)state;
	const char *good[] = {"Dr. X, lab admin", "Backup – Zürich", "日本", "a", "😀"};
	const char *bad[] = {"",     "tab\there", "esc\033[31m",  "del\x7f", "c1\xc2\x85",
	                     "\xff", "\xc3",      "\xed\xa0\x80", "\xc0\xaf"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(lfs_label_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(lfs_label_valid(bad[i], strlen(bad[i])));
}

static void test_load_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/lethefs-labels.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	uint8_t key[32] = {5}, h[32] = {1};
	struct lfs_slot_labels l = {0}, out;
	assert_int_equal(lfs_labels_load(fd, UUID, key, &out), 0); /* absent: none */
	assert_int_equal(out.n, 0);
	assert_int_equal(lfs_labels_put(&l, 3, h, "ops"), 0);
	assert_int_equal(lfs_labels_store(fd, UUID, key, &l), 0);
	assert_int_equal(lfs_labels_load(fd, UUID, key, &out), 0);
	assert_int_equal(out.n, 1);
	assert_true(out.rec[0].verified);
	l.n = 0;
	assert_int_equal(lfs_labels_store(fd, UUID, key, &l), 0); /* none: removed */
	assert_int_equal(faccessat(fd, LFS_LABELS_FILE_NAME, F_OK, 0), -1);
	close(fd);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answer),     cmocka_unit_test(test_strict_decoder),
	    cmocka_unit_test(test_binding),          cmocka_unit_test(test_put_and_limits),
	    cmocka_unit_test(test_label_validation), cmocka_unit_test(test_load_store),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
