/* SPDX-License-Identifier: Apache-2.0 */
/* Who may enter the mount root. The mount root is the vault's d/ directory:
 * its mode and owner are what other users meet (with allow_other, the
 * kernel checks them: in format 1 the backing d/'s, in format 2 its
 * record's). init sets them (--root-mode, --root-owner); mount
 * warns when allow_other would let nobody in: a root that belongs to the
 * daemon's own user, without search permission for group or others. */
#define _GNU_SOURCE
#include "cli.h"
#include "../fs/dirmeta.h"
#include "../fs/irec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lfs_parse_root_mode(const char *s, mode_t *mode)
{
	char *end;
	if (!*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 5)
		return -1;
	unsigned long v = strtoul(s, &end, 8);
	if (*end || v > 07777)
		return -1;
	*mode = (mode_t)v;
	return 0;
}

/* A user or group given by name or number. */
static int parse_id(const char *s, bool group, unsigned *id)
{
	if (!*s)
		return -1;
	if (strspn(s, "0123456789") == strlen(s)) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (errno || *end || v >= (unsigned long)(unsigned)-1)
			return -1;
		*id = (unsigned)v;
		return 0;
	}
	if (group) {
		const struct group *g = getgrnam(s);
		if (!g)
			return -1;
		*id = g->gr_gid;
	} else {
		const struct passwd *p = getpwnam(s);
		if (!p)
			return -1;
		*id = p->pw_uid;
	}
	return 0;
}

int lfs_parse_root_owner(const char *s, uid_t *uid, gid_t *gid)
{
	char buf[256];
	const char *colon = strchr(s, ':');
	if (!colon || strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	unsigned u, g;
	if (parse_id(buf, false, &u) < 0 || parse_id(colon + 1, true, &g) < 0)
		return -1;
	*uid = u;
	*gid = g;
	return 0;
}

int lfs_root_access_record(const struct lfs_root_access *ra, struct lfs_irec *rec)
{
	return lfs_irec_make(rec, S_IFDIR | (ra->set_mode ? ra->mode : 0700),
	                     ra->set_owner ? ra->uid : geteuid(),
	                     ra->set_owner ? ra->gid : getegid(), 0);
}

int lfs_set_root_access(const char *vault, const struct lfs_root_access *ra, char *err,
                        size_t errlen)
{
	if (!ra->set_mode && !ra->set_owner)
		return 0;
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", vault, LFS_DATA_DIR_NAME);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "vault path too long");
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -errno : 0;
	/* Owner first: chown clears set-id bits, the mode then sets them. */
	if (r == 0 && ra->set_owner && fchown(fd, ra->uid, ra->gid) < 0)
		r = -errno;
	if (r == 0 && ra->set_mode && fchmod(fd, ra->mode) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		snprintf(err, errlen, "cannot set the mount root's %s on %s: %s",
		         ra->set_owner ? "owner and mode" : "mode", path, strerror(-r));
	return r;
}

void lfs_warn_root_access(int vault_fd, struct lfs_keyring *kr, const char *mountpoint)
{
	struct stat st;
	if (fstatat(vault_fd, LFS_DATA_DIR_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	unsigned mode = (unsigned)(st.st_mode & 07777), uid = st.st_uid, gid = st.st_gid;
	/* Format 2: the mount root shows its record, not the backing d/
	 * (always 0700, the daemon's). Locked: not known yet, nothing said. */
	int dfd =
	    openat(vault_fd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uint8_t raw[LFS_DIRMETA_MAX];
	size_t len = 0;
	struct lfs_dirmeta m;
	int v2 = dfd >= 0 && lfs_dirmeta_read(dfd, raw, &len, &m) == 0 && m.version == 2;
	if (dfd >= 0)
		close(dfd);
	if (v2) {
		const struct lfs_epoch_keys *k;
		struct lfs_irec rec;
		if (lfs_keyring_get(kr, m.epoch, &k) < 0)
			return;
		int r = lfs_dirmeta_open(raw, len, k, &rec);
		lfs_keyring_put(kr);
		if (r < 0)
			return; /* the mount reports a root that does not authenticate */
		mode = rec.mode;
		uid = rec.uid;
		gid = rec.gid;
	}
	/* A group or everyone may enter, or the root was given to another
	 * account (a service's): that was chosen, nothing to say. */
	if ((mode & (S_IXGRP | S_IXOTH)) || uid != (unsigned)geteuid())
		return;
	fprintf(stderr,
	        "lethefs mount: warning: the mount root is mode %04o, owner %u:%u, so with "
	        "allow_other\n"
	        "  users other than its owner still cannot enter it. To let them in, once "
	        "mounted:\n"
	        "    chmod 0755 %s          (every user may enter; file modes still apply)\n"
	        "    chown USER:GROUP %s    (one service account, e.g. postgres:postgres)\n"
	        "  or create the vault with: lethefs init --root-mode MODE --root-owner "
	        "USER:GROUP\n",
	        mode, uid, gid, mountpoint, mountpoint);
}
