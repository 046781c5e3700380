/* SPDX-License-Identifier: Apache-2.0 */
/* The names one directory listing has returned, kept as keyed 64-bit
 * hashes. A listing whose directory's names moved between two of its
 * READDIR calls (a rotation converted the directory: every backing entry
 * was renamed, so the backing stream's positions mean nothing any more)
 * starts the backing stream again and skips what it returned already, so
 * that an entry present throughout is listed exactly once. No FUSE here. */
#ifndef LETHEFS_DIRSEEN_H
#define LETHEFS_DIRSEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

struct lfs_dirseen {
	uint64_t *h;
	size_t n, cap;
	size_t sorted; /* h[0, sorted) is sorted: what a restart filters on */
	bool filtering;
	bool lost; /* a name was not kept (memory, budget): a restart may repeat */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

/* A fresh set with its own random key (the hashes say nothing across
 * listings). */
void lfs_dirseen_init(struct lfs_dirseen *s);
void lfs_dirseen_free(struct lfs_dirseen *s);
/* Bytes all listings' sets hold now (at most 64 MiB: past that a listing
 * keeps no more names, as if memory had run out). */
size_t lfs_dirseen_bytes_in_use(void);
/* The listing starts over from its beginning (rewinddir): nothing has been
 * returned, nothing is filtered. */
void lfs_dirseen_clear(struct lfs_dirseen *s);
/* name was put in a reply. */
void lfs_dirseen_add(struct lfs_dirseen *s, const char *name);
/* The backing stream starts again: from now on lfs_dirseen_has filters
 * what was returned until now. Returns false when some name could not
 * be kept (the restarted listing may repeat an entry). */
bool lfs_dirseen_restart(struct lfs_dirseen *s);
/* Whether a restarted listing returned name before its restart. Safe from
 * several threads at once (reads only what restart sorted). */
bool lfs_dirseen_has(const struct lfs_dirseen *s, const char *name);

#endif
