/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs keyslot: list, add and remove keyslots. One file per
 * subcommand; this one dispatches and lists. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void keyslot_help(void)
{
	printf("Usage: lethefs keyslot list [--json] VAULT\n"
	       "       lethefs keyslot add [OPTIONS] VAULT\n"
	       "       lethefs keyslot remove --slot N [OPTIONS] VAULT\n"
	       "\n"
	       "A vault has %d keyslots; each used one wraps the master key under its own\n"
	       "secret (a passphrase, a key file or an external program's output), so any\n"
	       "of them unlocks the vault. See docs/KEYS.md.\n"
	       "\n"
	       "  list     show every slot's type and Argon2id parameters (no secret needed)\n"
	       "  add      authenticate with an existing secret, then add a new one\n"
	       "  remove   authenticate with any secret, then empty a slot\n"
	       "\n"
	       "Run 'lethefs keyslot SUBCOMMAND --help' for options.\n",
	       LFS_NSLOTS);
}

static void list_help(void)
{
	printf("Usage: lethefs keyslot list [--json] VAULT\n"
	       "\n"
	       "Print each of VAULT's %d keyslots: its index, type (passphrase, keyfile,\n"
	       "extpass or empty) and Argon2id parameters. Reads only public metadata.\n"
	       "\n"
	       "Options:\n"
	       "  --json              print a JSON array of {slot, type, kdf, opslimit,\n"
	       "                      memlimit (bytes)}; empty slots have slot and type only\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 ok, 2 usage, 4 no vault, 5 corrupt vault files.\n",
	       LFS_NSLOTS);
}

static int keyslot_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			list_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("keyslot list", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("keyslot list", "expected exactly one VAULT argument");
	const char *path = argv[optind];
	struct lfs_vault v;
	char err[512];
	enum lfs_vault_error e = lfs_vault_open(path, &v, err, sizeof(err));
	if (e != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(e, err);
	if (json)
		lfs_print_slots_json(&v.slots);
	else
		for (int i = 0; i < LFS_NSLOTS; i++)
			lfs_print_slot("", i, &v.slots.slot[i]);
	lfs_vault_close(&v);
	return LFS_EXIT_OK;
}

int lfs_cmd_keyslot(int argc, char **argv)
{
	if (argc < 2)
		return lfs_cli_usage_error("keyslot", "expected list, add or remove");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		keyslot_help();
		return LFS_EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return keyslot_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "add"))
		return lfs_cmd_keyslot_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "remove"))
		return lfs_cmd_keyslot_remove(argc - 1, argv + 1);
	return lfs_cli_usage_error("keyslot", "unknown subcommand '%s'", argv[1]);
}
