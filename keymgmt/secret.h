/* Where a passphrase comes from: a file, an inherited descriptor, an
 * external program (key provider), or the terminal. The secret is returned
 * in sodium_malloc'd memory; release it with lfs_secret_free. */
#ifndef LETHEFS_SECRET_H
#define LETHEFS_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define LFS_SECRET_MAX 4096

struct lfs_secret_source {
	const char *passfile;
	int passfd; /* -1 when unset */
	const char *extpass;
};

struct lfs_secret {
	char *data;
	size_t len;
};

/* confirm: ask twice on a terminal (for new passphrases). Returns 0 or a
 * negative errno; err explains. */
int lfs_secret_read(const struct lfs_secret_source *src, bool confirm, const char *prompt,
		    struct lfs_secret *out, char *err, size_t errlen);
void lfs_secret_free(struct lfs_secret *s);

#endif
