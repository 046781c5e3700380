/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the cmocka unit tests. Header-only so that the
 * Makefile's one-binary-per-test_*.c rule needs nothing extra. */
#ifndef LETHEFS_TESTUTIL_H
#define LETHEFS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

/* Decodes a hex literal into out, failing the test if it is malformed:
 * a typo in a known answer must not silently compare fewer bytes. */
static inline void test_hex(uint8_t *out, size_t len, const char *hex)
{
	size_t got = 0;
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

/* Compares bytes against a hex literal and shows both on mismatch. */
static inline void assert_hex_equal(const uint8_t *got, size_t len, const char *hex)
{
	char have[2 * 64 + 1];
	assert_true(len <= 64);
	sodium_bin2hex(have, sizeof(have), got, len);
	assert_string_equal(have, hex);
}

/* A deterministic byte pattern: tests must not depend on luck. */
static inline void test_fill(uint8_t *p, size_t len, uint8_t start)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(start + i);
}

#endif
