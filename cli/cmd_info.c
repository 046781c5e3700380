/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs info: public facts about a vault; needs no secret. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

static void info_help(void)
{
	printf("Usage: lethefs info VAULT\n"
	       "\n"
	       "Print VAULT's format version, uuid, content cipher, creation time and, for\n"
	       "each keyslot in use, its type and Argon2id parameters. Reads only public\n"
	       "metadata: no passphrase is asked and nothing secret is printed.\n"
	       "\n"
	       "Exit codes: 0 ok, 2 usage, 4 no vault, 5 corrupt vault files.\n");
}

int lfs_cmd_info(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		info_help();
		return LFS_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return lfs_cli_usage_error("info", "expected exactly one VAULT argument");
	struct lfs_vault v;
	char err[512], uuid[33];
	enum lfs_vault_error e = lfs_vault_open(argv[1], &v, err, sizeof(err));
	if (e != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(e, err);
	sodium_bin2hex(uuid, sizeof(uuid), v.cfg.uuid, 16);
	printf("vault:    %s\n", argv[1]);
	printf("format:   %d\n", v.cfg.format);
	printf("uuid:     %s\n", uuid);
	printf("cipher:   %s\n", lfs_cipher_name(v.cfg.cipher));
	printf("created:  %s\n", v.cfg.created);
	printf("keyslots: %d of %d used\n", lfs_keyslots_count_used(&v.slots), LFS_NSLOTS);
	for (int i = 0; i < LFS_NSLOTS; i++) {
		if (v.slots.slot[i].type != LFS_SLOT_EMPTY)
			lfs_print_slot("  ", i, &v.slots.slot[i]);
	}
	lfs_vault_close(&v);
	return LFS_EXIT_OK;
}
