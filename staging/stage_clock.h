/* SPDX-License-Identifier: Apache-2.0 */
/* The staging clock (docs/STAGING.md, "The clock"): the time every
 * staging decision uses. It never goes back and never runs slower than
 * real time, whatever the wall clock does:
 *
 *   now = max(wall clock, mark + time elapsed since the mark)
 *
 * where elapsed time comes from CLOCK_BOOTTIME (the kernel's, which
 * nobody can step) and mark is the highest time seen so far: in this
 * process, in /run/lethefs/staging-clock-UUID (root's, valid for this
 * boot: its boottime lets the next process carry on from it), and in
 * VAULT/staging/clock (any writer of the vault can edit it, so it is only
 * ever used to raise the time: a higher mark shreds sooner, never later).
 * A stepped-back wall clock therefore postpones no expiry; only a
 * stepped-back clock after a reboot together with an edited vault mark
 * can (THREAT-MODEL.md 3.5). */
#ifndef LETHEFS_STAGE_CLOCK_H
#define LETHEFS_STAGE_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LFS_STAGE_CLOCK_NAME    "clock"
#define LFS_STAGE_CLOCK_RUN_DIR "/run/lethefs"
#define LFS_STAGE_CLOCK_RUN_PFX "staging-clock-"
#define LFS_STAGE_CLOCK_STORE_S 60 /* marks are written at most this often */
#define LFS_STAGE_CLOCK_BOOT_ID 37 /* 36 characters and a NUL */

struct lfs_stage_clock {
	pthread_mutex_t lock;
	int64_t mark_ns;    /* highest time handed out (Unix ns) */
	int64_t mono_at_ns; /* CLOCK_BOOTTIME when mark_ns was set */
	int64_t stored;     /* mark last written (s), 0 = never */
	char uuid_hex[33];
	char boot_id[LFS_STAGE_CLOCK_BOOT_ID];
};

/* Starts from the marks of the vault (sdirfd = VAULT/staging, or -1) and
 * of this host. */
void lfs_stage_clock_init(struct lfs_stage_clock *c, const uint8_t uuid[16], int sdirfd);
void lfs_stage_clock_destroy(struct lfs_stage_clock *c);
/* Seconds since the epoch on the staging clock. */
int64_t lfs_stage_clock_now(struct lfs_stage_clock *c);
/* Writes the mark to the vault and (as root) to /run/lethefs when force
 * or when it moved by LFS_STAGE_CLOCK_STORE_S since the last write. */
void lfs_stage_clock_store(struct lfs_stage_clock *c, int sdirfd, bool force);

/* The mark files, for tests and fuzzing. Vault: "lethefs-staging-clock 1\n
 * <seconds>\n"; host: "... <ms> <boottime ms> <boot id>\n".
 * parse returns 0 or -EINVAL; boottime and boot_id are optional outputs
 * (NULL) and required in the text exactly when given. */
int lfs_stage_clock_parse(const char *text, size_t len, int64_t *mark, int64_t *boottime,
                          char boot_id[LFS_STAGE_CLOCK_BOOT_ID]);
int lfs_stage_clock_format(char *out, size_t len, int64_t mark, const int64_t *boottime,
                           const char *boot_id);

#endif
