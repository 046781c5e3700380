/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation journal of lethefs 0.1 (VAULT/lethefs.rotation.journal,
 * rotjournal.h): since 0.2 a conversion runs under a record of the vault
 * journal (record.h), which recovery applies. The old file carried only an
 * unkeyed checksum, so whoever can write the backing store could forge one
 * (issue 11: a forged "new header" made the daemon adopt another file's id
 * and the SPARSE flag). It is therefore never applied on its own: a mount
 * reports it, and `lethefs fsck --repair --apply-legacy-journal` applies it
 * on the administrator's word, with every check a record gets. */
#define _GNU_SOURCE
#include "rotate.h"
#include "replay.h"
#include "record.h"
#include "rotjournal.h"
#include "redir.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_legacy(int vault_dirfd, struct lfs_rotjournal *j)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int e =
	    lfs_read_small_file(vault_dirfd, LFS_ROTATION_JOURNAL, LFS_ROTJ_MAX_LEN, &buf, &len);
	if (e < 0)
		return e;
	e = lfs_rotjournal_decode(buf, len, j);
	free(buf);
	return e;
}

void lfs_rotation_recover(struct lfs_rotation *r)
{
	struct lfs_rotjournal j;
	int e = read_legacy(r->env.vault->dirfd, &j);
	if (e == -ENOENT)
		return;
	lfs_err("rotation: %s (written by lethefs 0.1) is not applied: it cannot be "
	        "authenticated. If this vault crashed during a rotation under that version, "
	        "unmount it and run 'lethefs fsck --repair --apply-legacy-journal'; else remove "
	        "the file",
	        LFS_ROTATION_JOURNAL);
	lfs_rot_audit(r, "legacy-journal-ignored", "journal_kind", e == 0 ? j.kind : -1, NULL, 0);
}

int lfs_rot_apply_legacy(int vault_dirfd, int data_dirfd, int mount_fd, const struct lfs_layout *l,
                         struct lfs_keyring *kr, char *what, size_t whatlen)
{
	struct lfs_rotjournal *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	int e = read_legacy(vault_dirfd, j);
	if (e < 0) {
		free(j);
		return e;
	}
	snprintf(what, whatlen, "d/%s", j->path);
	/* The target, as a record would name it. */
	struct lfs_journal_target t;
	memset(&t, 0, sizeof(t));
	t.dev = j->dev;
	t.ino = j->ino;
	t.handle_type = j->handle_type;
	t.handle_len = j->handle_len;
	memcpy(t.handle, j->handle, j->handle_len);
	t.path_len = (uint32_t)strlen(j->path);
	memcpy(t.path, j->path, t.path_len);
	bool file = j->kind == LFS_ROTJ_FILE;
	int fd = lfs_journal_target_open(&t, data_dirfd, mount_fd,
	                                 file ? O_RDWR : O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		e = fd;
	} else {
		uint8_t payload[2 * LFS_FILE_HDR_V1_LEN];
		size_t img = file ? LFS_FILE_HDR_V1_LEN : LFS_DIRMETA_V1_LEN;
		memcpy(payload, j->old_raw, img);
		memcpy(payload + img, j->new_raw, img);
		/* Offline, on the explicit request of fsck --repair
		 * --apply-legacy-journal: without block records. */
		e = file ? lfs_rot_apply_file(l->cipher, kr, NULL, fd, payload, 2 * img)
		         : lfs_rot_apply_dir(kr, fd, payload, 2 * img);
		close(fd);
	}
	free(j);
	if (e == 0 || e == -ENOENT || e == -ESTALE) {
		if (unlinkat(vault_dirfd, LFS_ROTATION_JOURNAL, 0) < 0 && errno != ENOENT)
			return -errno;
		fsync(vault_dirfd);
	}
	return e;
}

bool lfs_rotation_legacy_journal_exists(int vault_dirfd)
{
	return faccessat(vault_dirfd, LFS_ROTATION_JOURNAL, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}
