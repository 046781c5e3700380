/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for recovery keys (keymgmt/recovery.c): the text round-trips,
 * separators and case do not matter, and every single-character typo,
 * transposition, wrong length or wrong version is refused with a reason
 * before the key could be tried against a vault. */
#include "testutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "../../keymgmt/recovery.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void encode_fixed(uint8_t master[32], char text[LFS_RECOVERY_TEXT_LEN + 1])
{
	test_fill(master, 32, 0x42);
	lfs_recovery_encode(master, text);
}

static int decode(const char *text, uint8_t out[32], const char **why)
{
	*why = NULL;
	return lfs_recovery_decode(text, strlen(text), out, why);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1];
	const char *why;
	for (int k = 0; k < 64; k++) {
		randombytes_buf(master, sizeof(master));
		if (k == 0)
			memset(master, 0, sizeof(master));
		lfs_recovery_encode(master, text);
		assert_int_equal(strlen(text), LFS_RECOVERY_TEXT_LEN);
		assert_memory_equal(text, "LRK1-", 5);
		assert_int_equal(decode(text, out, &why), 0);
		assert_memory_equal(out, master, 32);
	}
}

/* Pins the format: a change here is a change to every paper backup. */
static void test_known_answer(void **state)
{
	(void)state;
	uint8_t master[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1];
	memset(master, 0, sizeof(master));
	lfs_recovery_encode(master, text);
	/* 32 zero bytes give 51 'A's, then the checksum's characters
	 * (cross-checked with Python's hashlib.blake2b and base64.b32encode). */
	assert_string_equal(text, "LRK1-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-"
	                          "AAAA-AAAH-LZYD-CX6X-SABF");
	test_fill(master, 32, 0x42);
	lfs_recovery_encode(master, text);
	assert_string_equal(text, "LRK1-IJBU-IRKG-I5EE-SSSL-JRGU-4T2Q-KFJF-GVCV-KZLV-QWK2-LNOF-"
	                          "2XS7-MBQX-YS5C-54PG-CYUS");
	for (size_t i = 5; i < LFS_RECOVERY_TEXT_LEN; i++)
		assert_true(text[i] == '-' || strchr(alphabet, text[i]));
}

static void test_separators_and_case_ignored(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1], messy[256];
	const char *why;
	encode_fixed(master, text);
	/* Lower case, spaces instead of dashes, line breaks, a trailing CRLF. */
	size_t o = 0;
	for (size_t i = 0; text[i]; i++) {
		char c = text[i];
		if (c == '-')
			messy[o++] = i % 20 == 4 ? '\n' : ' ';
		else
			messy[o++] = (char)tolower((unsigned char)c);
	}
	memcpy(messy + o, "\r\n", 3);
	assert_int_equal(decode(messy, out, &why), 0);
	assert_memory_equal(out, master, 32);
	/* Without the prefix, and without any separator. */
	o = 0;
	for (size_t i = 5; text[i]; i++)
		if (text[i] != '-')
			messy[o++] = text[i];
	messy[o] = '\0';
	assert_int_equal(strlen(messy), 64);
	assert_int_equal(decode(messy, out, &why), 0);
	assert_memory_equal(out, master, 32);
}

static void test_every_single_substitution_rejected(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1], typo[LFS_RECOVERY_TEXT_LEN + 1];
	const char *why;
	encode_fixed(master, text);
	int tried = 0;
	for (size_t i = 5; i < LFS_RECOVERY_TEXT_LEN; i++) {
		if (text[i] == '-')
			continue;
		/* Every other base32 character, and the usual look-alikes. */
		const char *candidates[] = {alphabet, "0189"};
		for (int set = 0; set < 2; set++) {
			for (const char *c = candidates[set]; *c; c++) {
				if (*c == text[i])
					continue;
				memcpy(typo, text, sizeof(typo));
				typo[i] = *c;
				assert_int_equal(decode(typo, out, &why), -EINVAL);
				assert_non_null(why);
				tried++;
			}
		}
	}
	assert_int_equal(tried, 64 * 35);
}

static void test_transposition_rejected(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1], swapped[LFS_RECOVERY_TEXT_LEN + 1];
	const char *why;
	encode_fixed(master, text);
	for (size_t i = 5; i + 1 < LFS_RECOVERY_TEXT_LEN; i++) {
		if (text[i] == '-' || text[i + 1] == '-' || text[i] == text[i + 1])
			continue;
		memcpy(swapped, text, sizeof(swapped));
		swapped[i] = text[i + 1];
		swapped[i + 1] = text[i];
		assert_int_equal(decode(swapped, out, &why), -EINVAL);
		assert_string_equal(why, "checksum mismatch: a character of the recovery key is "
		                         "mistyped");
	}
}

static void test_bad_lengths(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1], buf[LFS_RECOVERY_TEXT_LEN + 8];
	const char *why;
	encode_fixed(master, text);
	/* One character dropped, one doubled, everything truncated. */
	for (size_t cut = 0; cut < LFS_RECOVERY_TEXT_LEN; cut++) {
		assert_int_equal(lfs_recovery_decode(text, cut, out, &why), -EINVAL);
		assert_non_null(why);
	}
	snprintf(buf, sizeof(buf), "%sA", text);
	assert_int_equal(decode(buf, out, &why), -EINVAL);
	assert_non_null(strstr(why, "has 65"));
	snprintf(buf, sizeof(buf), "%.*s%s", 6, text, text + 7);
	assert_int_equal(decode(buf, out, &why), -EINVAL);
	assert_non_null(strstr(why, "has 63"));
	assert_int_equal(decode("", out, &why), -EINVAL);
	assert_int_equal(decode("correct horse battery staple", out, &why), -EINVAL);
}

static void test_bad_characters_and_version(void **state)
{
	(void)state;
	uint8_t master[32], out[32];
	char text[LFS_RECOVERY_TEXT_LEN + 1], buf[LFS_RECOVERY_TEXT_LEN + 1];
	const char *why;
	encode_fixed(master, text);
	memcpy(buf, text, sizeof(buf));
	buf[10] = '.';
	assert_int_equal(decode(buf, out, &why), -EINVAL);
	assert_non_null(strstr(why, "position 11"));
	memcpy(buf, text, sizeof(buf));
	buf[3] = '2';
	assert_int_equal(decode(buf, out, &why), -EINVAL);
	assert_non_null(strstr(why, "version"));
	/* A '0' where an 'O' belongs names the group and position only. */
	memcpy(buf, text, sizeof(buf));
	buf[6] = '0';
	assert_int_equal(decode(buf, out, &why), -EINVAL);
	assert_non_null(strstr(why, "group 1, position 2"));
	/* A NUL inside the given length is not a separator. */
	memcpy(buf, text, sizeof(buf));
	buf[20] = '\0';
	assert_int_equal(lfs_recovery_decode(buf, LFS_RECOVERY_TEXT_LEN, out, &why), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_known_answer),
	    cmocka_unit_test(test_separators_and_case_ignored),
	    cmocka_unit_test(test_every_single_substitution_rejected),
	    cmocka_unit_test(test_transposition_rejected),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_bad_characters_and_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
