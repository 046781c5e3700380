/* SPDX-License-Identifier: Apache-2.0 */
/* The one recovery function (docs/FORMAT.md, "Crash safety"): brings a
 * vault back to a consistent state after a crash by applying the journal's
 * authenticated records: block images first, then the others oldest first. Everything that uses a
 * vault's keys runs it before it reads or writes anything else: an unlocked mount and every unlock
 * of a locked one, fsck --repair, rekey and rotate. */
#ifndef LETHEFS_RECOVER_H
#define LETHEFS_RECOVER_H

#include "../fs/content.h"
#include "../journal/journal.h"
#include "../keymgmt/keyring.h"

struct lfs_recovery {
	/* What to work on. */
	struct lfs_journal *journal;
	struct lfs_keyring *kr; /* unlocked */
	const struct lfs_layout *layout;
	int data_dirfd;      /* VAULT/d */
	int handle_mount_fd; /* for file handles; -1: none */
	/* Take each target file's cross-host size lock (fs/filelock.h) while
	 * applying its record: other hosts run (shared mode). */
	bool lock_targets;
	/* Apply only block images (LFS_JK_OVERWRITE) and keep the rest for a
	 * later pass: with several journals (hosts), every journal's images go
	 * before any other record of any journal, as within one journal. */
	bool images_only;
	/* What happened. */
	unsigned completed;   /* updates brought to their end */
	unsigned rolled_back; /* updates undone (they had not reached disk) */
	unsigned gone;        /* their object no longer exists: nothing to do */
	unsigned failed;      /* could not be applied now: kept for next time */
	unsigned rejected;    /* records that do not authenticate: ignored */
	unsigned repaired;    /* blocks a killed write had cut, put back */
	unsigned lost;        /* blocks cut that no record could put back */
	/* While it runs: the journal's key, for records recovery writes. */
	const uint8_t *journal_key;
};

/* Applies every pending record. Returns 0 when the journal could be read
 * (individual failures are counted, logged and keep their records), or a
 * negative errno. */
int lfs_recover(struct lfs_recovery *rc);

/* The same for a command that works on an unmounted vault (rekey, fsck
 * --repair), holding its exclusive lease (cluster/lease.h): every journal
 * of the vault, lethefs.journal and each host's lethefs.journal.<HOST>,
 * counted together in rc. A vault without a journal has nothing to
 * recover. */
struct lfs_vault;
int lfs_recover_vault(struct lfs_vault *v, struct lfs_keyring *kr, struct lfs_recovery *rc);

#endif
