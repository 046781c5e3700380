/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs key export: the master key as a recovery key, for a paper backup. */
#include "cli.h"
#include "../keymgmt/recovery.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

static void key_help(void)
{
	printf("Usage: lethefs key export [SECRET OPTIONS] VAULT\n"
	       "\n"
	       "Unlock VAULT and print its master key on standard output as a recovery key\n"
	       "(LRK1- and 16 groups of 4 characters, with a checksum), for a paper backup.\n"
	       "'--recovery-key' then unlocks the vault with it wherever a passphrase is\n"
	       "accepted. Anyone who reads it can decrypt the vault; removing keyslots or\n"
	       "changing passphrases does not revoke it. See docs/KEYS.md.\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 printed, 1 error, 2 usage, 3 wrong secret, 4 no vault,\n"
	       "5 corrupt vault files.\n");
}

static int export_master(const char *path, struct lfs_keyring *kr)
{
	uint8_t *master = sodium_malloc(LFS_MASTER_KEY_LEN + LFS_RECOVERY_TEXT_LEN + 1);
	if (!master) {
		lfs_cli_error("out of memory");
		return LFS_EXIT_ERROR;
	}
	char *text = (char *)master + LFS_MASTER_KEY_LEN;
	int r = lfs_keyring_copy_master(kr, master);
	if (r == 0) {
		lfs_recovery_encode(master, text);
		fprintf(stderr,
		        "lethefs: WARNING: the recovery key below unlocks %s without any\n"
		        "passphrase. Write it down, keep it offline, and do not store it next to\n"
		        "the vault or its backups. Removing keyslots does not revoke it.\n",
		        path);
		printf("%s\n", text);
		fflush(stdout);
	}
	sodium_free(master);
	return r == 0 ? LFS_EXIT_OK : LFS_EXIT_ERROR;
}

static int key_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = lfs_secret_option("key export", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		if (c == 'h') {
			key_help();
			return LFS_EXIT_OK;
		}
		return lfs_cli_usage_error("key export", "unknown option");
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("key export", "expected exactly one VAULT argument");
	struct lfs_vault v;
	struct lfs_keyring kr;
	int r = lfs_open_and_unlock(argv[optind], &src, &v, &kr);
	if (r != 0)
		return r;
	/* Fail closed: a master key leaves the vault only on the record. */
	if (lfs_cli_audit(&v, &kr, "key-export", "success", NULL, 0) < 0)
		r = LFS_EXIT_ERROR;
	else
		r = export_master(argv[optind], &kr);
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	return r;
}

int lfs_cmd_key(int argc, char **argv)
{
	if (argc < 2)
		return lfs_cli_usage_error("key", "expected export");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		key_help();
		return LFS_EXIT_OK;
	}
	if (!strcmp(argv[1], "export"))
		return key_export(argc - 1, argv + 1);
	return lfs_cli_usage_error("key", "unknown subcommand '%s'", argv[1]);
}
