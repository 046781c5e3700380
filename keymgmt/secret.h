/* SPDX-License-Identifier: Apache-2.0 */
/* Where a secret comes from: a passphrase file, an inherited descriptor, an
 * external program (key provider), a key file, or the terminal. The secret
 * is returned in sodium_malloc'd memory; release it with lfs_secret_free. */
#ifndef LETHEFS_SECRET_H
#define LETHEFS_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define LFS_SECRET_MAX 4096
/* Key files are random bytes, not typed text: they may be larger, but a
 * bound keeps a wrong path (a disk image, /dev/zero) from eating memory. */
#define LFS_KEYFILE_MAX 65536

struct lfs_secret_source {
	const char *passfile;
	int passfd; /* -1 when unset */
	const char *extpass;
	const char *keyfile; /* every byte counts: no newline is stripped */
	bool recovery;       /* the secret is a recovery key (the CLI decodes it) */
};

struct lfs_secret {
	char *data;
	size_t len;
};

/* confirm: ask twice on a terminal (for new passphrases). With
 * src->recovery the terminal prompt is "Recovery key: " instead of prompt.
 * Returns 0 or a negative errno; err explains. */
int lfs_secret_read(const struct lfs_secret_source *src, bool confirm, const char *prompt,
                    struct lfs_secret *out, char *err, size_t errlen);
void lfs_secret_free(struct lfs_secret *s);

#endif
