/* SPDX-License-Identifier: Apache-2.0 */
/* What the test tools share: a vault opened and unlocked with the
 * passphrase of a file, as the tests write it (trailing newlines cut). */
#ifndef LETHEFS_TOOL_UNLOCK_H
#define LETHEFS_TOOL_UNLOCK_H

#include "../../keymgmt/vault.h"

#include <stdio.h>
#include <sodium.h>

/* 0 with v open and kr unlocked, else 1 after a message on stderr. */
static int tool_unlock(const char *vault, const char *passfile, struct lfs_vault *v,
                       struct lfs_keyring *kr)
{
	char err[512], pass[4096];
	FILE *pf = fopen(passfile, "re");
	size_t n = pf ? fread(pass, 1, sizeof(pass) - 1, pf) : 0;
	if (pf)
		fclose(pf);
	while (n && (pass[n - 1] == '\n' || pass[n - 1] == '\r'))
		n--;
	int slot, rc = 0;
	if (lfs_vault_open(vault, v, err, sizeof(err)) != LFS_VAULT_OK) {
		fprintf(stderr, "%s\n", err);
		rc = 1;
	} else if (lfs_vault_unlock(v, pass, n, kr, &slot) != 0) {
		fprintf(stderr, "unlock failed\n");
		lfs_vault_close(v);
		rc = 1;
	}
	sodium_memzero(pass, sizeof(pass));
	return rc;
}

#endif
