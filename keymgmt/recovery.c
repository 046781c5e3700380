/* SPDX-License-Identifier: Apache-2.0 */
#include "recovery.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/* The domain string keeps this checksum from equalling any other hash of
 * the master key that lethefs or anything else might compute. */
static const char check_domain[] = "lethefs recovery key v1";
#define PAYLOAD_LEN (LFS_MASTER_KEY_LEN + LFS_RECOVERY_CHECK_LEN) /* 40 bytes, 64 chars */
#define PREFIX_LEN  4

static void checksum(const uint8_t master[LFS_MASTER_KEY_LEN], uint8_t out[LFS_RECOVERY_CHECK_LEN])
{
	/* crypto_generichash's shortest output is 16 bytes: take the first 8. */
	uint8_t h[crypto_generichash_BYTES_MIN];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)check_domain, sizeof(check_domain) - 1);
	crypto_generichash_update(&st, master, LFS_MASTER_KEY_LEN);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, LFS_RECOVERY_CHECK_LEN);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
}

/* 40 bytes to 64 characters: each 5 bytes give 8 characters, no padding. */
static void base32_encode(const uint8_t in[PAYLOAD_LEN], char out[LFS_RECOVERY_CHARS])
{
	for (size_t blk = 0; blk < PAYLOAD_LEN / 5; blk++) {
		uint64_t bits = 0;
		for (size_t i = 0; i < 5; i++)
			bits = bits << 8 | in[blk * 5 + i];
		for (size_t i = 0; i < 8; i++)
			out[blk * 8 + i] = alphabet[(bits >> (35 - 5 * i)) & 31];
	}
}

static int base32_value(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

void lfs_recovery_encode(const uint8_t master[LFS_MASTER_KEY_LEN],
                         char out[LFS_RECOVERY_TEXT_LEN + 1])
{
	uint8_t payload[PAYLOAD_LEN];
	char chars[LFS_RECOVERY_CHARS];
	memcpy(payload, master, LFS_MASTER_KEY_LEN);
	checksum(master, payload + LFS_MASTER_KEY_LEN);
	base32_encode(payload, chars);
	memcpy(out, LFS_RECOVERY_PREFIX, PREFIX_LEN);
	size_t o = PREFIX_LEN;
	for (size_t i = 0; i < LFS_RECOVERY_CHARS; i++) {
		if (i % LFS_RECOVERY_GROUP == 0)
			out[o++] = '-';
		out[o++] = chars[i];
	}
	out[o] = '\0';
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(chars, sizeof(chars));
}

static int is_separator(char c)
{
	return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Collects the significant characters, upper-cased. Returns their count
 * (which may exceed cap: only the first cap are stored) or -1 when a
 * character is neither a separator nor a letter or digit. */
static long collect(const char *text, size_t len, char *buf, size_t cap, size_t *bad_pos)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (is_separator(c))
			continue;
		if (!isalnum((unsigned char)c)) {
			*bad_pos = i + 1;
			return -1;
		}
		if (n < cap)
			buf[n] = (char)toupper((unsigned char)c);
		n++;
	}
	return (long)n;
}

static int decode_chars(const char *chars, uint8_t payload[PAYLOAD_LEN], const char **why)
{
	static char msg[96];
	for (size_t blk = 0; blk < PAYLOAD_LEN / 5; blk++) {
		uint64_t bits = 0;
		for (size_t i = 0; i < 8; i++) {
			size_t k = blk * 8 + i;
			int v = base32_value(chars[k]);
			if (v < 0) {
				/* The position, never the character: it is part of a secret. */
				snprintf(msg, sizeof(msg),
				         "invalid character in group %zu, position %zu (only A-Z "
				         "and 2-7 occur)",
				         k / LFS_RECOVERY_GROUP + 1, k % LFS_RECOVERY_GROUP + 1);
				*why = msg;
				return -EINVAL;
			}
			bits = bits << 5 | (uint64_t)v;
		}
		for (size_t i = 0; i < 5; i++)
			payload[blk * 5 + i] = (uint8_t)(bits >> (32 - 8 * i));
	}
	return 0;
}

int lfs_recovery_decode(const char *text, size_t len, uint8_t master[LFS_MASTER_KEY_LEN],
                        const char **why)
{
	static char msg[128];
	char buf[PREFIX_LEN + LFS_RECOVERY_CHARS];
	uint8_t payload[PAYLOAD_LEN], check[LFS_RECOVERY_CHECK_LEN];
	size_t bad_pos = 0;
	int r = -EINVAL;
	long n = collect(text, len, buf, sizeof(buf), &bad_pos);
	const char *chars = buf;
	if (n < 0) {
		snprintf(msg, sizeof(msg), "invalid character at position %zu of the recovery key",
		         bad_pos);
		*why = msg;
		goto out;
	}
	/* The prefix cannot be mistaken for key characters: '1' is not in
	 * the base32 alphabet. */
	if (n >= PREFIX_LEN && !memcmp(buf, "LRK", 3) && isdigit((unsigned char)buf[3])) {
		if (buf[3] != LFS_RECOVERY_PREFIX[3]) {
			*why = "unsupported recovery key version (this lethefs reads LRK1)";
			goto out;
		}
		chars += PREFIX_LEN;
		n -= PREFIX_LEN;
	}
	if (n != LFS_RECOVERY_CHARS) {
		snprintf(msg, sizeof(msg),
		         "a recovery key has %d characters after LRK1, this one has %ld (a "
		         "character is missing or doubled)",
		         LFS_RECOVERY_CHARS, n);
		*why = msg;
		goto out;
	}
	if (decode_chars(chars, payload, why) < 0)
		goto out;
	checksum(payload, check);
	if (sodium_memcmp(check, payload + LFS_MASTER_KEY_LEN, sizeof(check)) != 0) {
		*why = "checksum mismatch: a character of the recovery key is mistyped";
		goto out;
	}
	memcpy(master, payload, LFS_MASTER_KEY_LEN);
	r = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(payload, sizeof(payload));
	return r;
}
