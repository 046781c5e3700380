/* SPDX-License-Identifier: Apache-2.0 */
/* Test tool: appends entries to a vault's audit log through the library
 * API, as the daemon and the key commands will, so that the integration
 * tests can exercise `lethefs audit` before those callers exist. Not
 * installed. With --passfile the entries are keyed (the vault is unlocked
 * to derive the audit key); without, they are only chained.
 * With --host H the entries go to host H's own log (a shared mount's,
 * lethefs.audit.d/H).
 * Usage: audit_append [--passfile F] [--count N] [--host H] VAULT EVENT OUTCOME
 *                     [KEY=STRING | KEY:=NUMBER]... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "../../audit/audit.h"
#include "../../audit/audit_keyring.h"
#include "../../keymgmt/vault.h"

static int usage(void)
{
	fprintf(stderr,
	        "usage: audit_append [--passfile F] [--count N] [--host H] VAULT EVENT OUTCOME "
	        "[KEY=STRING | KEY:=NUMBER]...\n");
	return 2;
}

/* Reads the first line of a passphrase file. */
static int read_pass(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	if (!f || !fgets(out, (int)outlen, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int unlock_key(struct lfs_vault *v, const char *passfile, uint8_t key[32])
{
	char pass[1024];
	struct lfs_keyring kr;
	int slot;
	if (read_pass(passfile, pass, sizeof(pass)) < 0)
		return -EIO;
	int r = lfs_vault_unlock(v, pass, strlen(pass), &kr, &slot);
	sodium_memzero(pass, sizeof(pass));
	if (r < 0)
		return r;
	r = lfs_audit_key_from(&kr, key); /* stored since a rekey, else derived */
	lfs_keyring_destroy(&kr);
	return r;
}

int main(int argc, char **argv)
{
	const char *passfile = NULL, *host = NULL;
	long count = 1;
	int i = 1;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--passfile"))
			passfile = argv[i + 1];
		else if (!strcmp(argv[i], "--host"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = strtol(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc - i < 3 || argc - i - 3 > LFS_AUDIT_MAX_DETAILS + 1 || sodium_init() < 0)
		return usage();
	struct lfs_audit_detail d[LFS_AUDIT_MAX_DETAILS + 1];
	size_t nd = 0;
	for (int a = i + 3; a < argc; a++, nd++) {
		char *eq = strchr(argv[a], '=');
		if (!eq)
			return usage();
		*eq = '\0';
		d[nd].key = argv[a];
		size_t klen = strlen(argv[a]);
		if (klen && argv[a][klen - 1] == ':') {
			argv[a][klen - 1] = '\0';
			d[nd].str = NULL;
			d[nd].num = strtoll(eq + 1, NULL, 10);
		} else {
			d[nd].str = eq + 1;
		}
	}
	struct lfs_vault v;
	char err[512];
	if (lfs_vault_open(argv[i], &v, err, sizeof(err)) != LFS_VAULT_OK) {
		fprintf(stderr, "audit_append: %s\n", err);
		return 4;
	}
	uint8_t key[32];
	int r = passfile ? unlock_key(&v, passfile, key) : 0;
	struct lfs_audit_log *log = NULL;
	if (r == 0)
		r = host ? lfs_audit_open_host(&log, v.dirfd, &v.cfg, host)
		         : lfs_audit_open(&log, v.dirfd, &v.cfg);
	struct lfs_audit_caller c;
	lfs_audit_caller_self(&c);
	for (long n = 0; r == 0 && n < count; n++)
		r = lfs_audit_append(log, passfile ? key : NULL, argv[i + 1], argv[i + 2], &c, d,
		                     nd);
	sodium_memzero(key, sizeof(key));
	lfs_audit_close(log);
	lfs_vault_close(&v);
	if (r < 0) {
		fprintf(stderr, "audit_append: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
