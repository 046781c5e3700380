/* SPDX-License-Identifier: Apache-2.0 */
/* Where a vault is mounted, from this process's mount table. */
#define _GNU_SOURCE
#include "mountinfo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lfs_mountinfo_unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* A fuse.lethefs mount whose source is this vault (also one whose daemon
 * died and left the mount behind). Writes its mount point into where. */
bool lfs_mounted_at(const char *vault, char *where, size_t wlen)
{
	char real[PATH_MAX];
	if (!realpath(vault, real))
		return false;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [tags...] - fstype source superopts;
		 * the fields are cut in place (no copies on the stack). */
		char *save = NULL, *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " \n", &save);
		char *mnt = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
		if (!mnt || !source)
			continue;
		lfs_mountinfo_unescape(source);
		lfs_mountinfo_unescape(mnt);
		if (!strcmp(fstype, "fuse.lethefs") && !strcmp(source, real)) {
			snprintf(where, wlen, "%s", mnt);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}
