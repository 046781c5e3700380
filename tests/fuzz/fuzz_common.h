/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the libFuzzer targets and the seed generator: fixed keys (so
 * that seeds sealed by seeds.c authenticate inside the targets), one-time
 * libsodium setup, and a check macro that crashes loudly, because a
 * broken invariant must be a finding, not a silent return. */
#ifndef LETHEFS_FUZZ_COMMON_H
#define LETHEFS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* A fixed key: byte i is seed + i. Different seeds, unrelated keys. */
static inline void fz_key(uint8_t *out, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i);
}

#define FZ_SEED_MASTER   0x10 /* keyring master key */
#define FZ_SEED_UUID     0x20 /* vault uuid */
#define FZ_SEED_NAME_MAC 0x30
#define FZ_SEED_NAME_ENC 0x40
#define FZ_SEED_DIRID    0x50
#define FZ_SEED_LINK     0x60
#define FZ_SEED_XATTR    0x70 /* xattr name mac; +1 name enc; +2 value */
#define FZ_SEED_HDR_MAC  0x80
#define FZ_SEED_CONTENT  0x90 /* content root */
#define FZ_SEED_INODE    0xa0 /* format 2: inode record key */

/* fuzz_irec's first input byte picks the mode. */
#define FZ_IREC_RAW     0 /* the rest is a plaintext record */
#define FZ_IREC_SEALED  1 /* the rest is 32 bytes of AD, then a sealed record */
#define FZ_IREC_PAYLOAD 2 /* the rest is a conversion record's payload */

/* fuzz_keyring's first input byte picks the mode. */
#define FZ_KEYRING_RAW    0 /* the rest is a sealed keyring file */
#define FZ_KEYRING_RESEAL 1 /* the rest is header | body, sealed by the target */

#define FZ_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer calls this once before any input. */
#define FZ_DEFINE_INIT                                                                             \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                                          \
	{                                                                                          \
		(void)argc;                                                                        \
		(void)argv;                                                                        \
		if (sodium_init() < 0)                                                             \
			abort();                                                                   \
		return 0;                                                                          \
	}

#endif
