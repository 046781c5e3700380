/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs keyslot: list, add and remove keyslots. One file per
 * subcommand; this one dispatches and lists. */
#include "cli.h"
#include "labels.h"
#include "../audit/audit_line.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

static void keyslot_help(void)
{
	printf("Usage: lethefs keyslot list [--json] [SECRET OPTIONS] VAULT\n"
	       "       lethefs keyslot add [OPTIONS] VAULT\n"
	       "       lethefs keyslot remove --slot N [OPTIONS] VAULT\n"
	       "\n"
	       "A vault has %d keyslots; each used one wraps the master key under its own\n"
	       "secret (a passphrase, a key file or an external program's output), so any\n"
	       "of them unlocks the vault. See docs/KEYS.md.\n"
	       "\n"
	       "  list     show every slot's type, Argon2id parameters and label (no secret\n"
	       "           needed; with one, the labels are verified)\n"
	       "  add      authenticate with an existing secret, then add a new one\n"
	       "  remove   authenticate with any secret, then empty a slot\n"
	       "\n"
	       "Run 'lethefs keyslot SUBCOMMAND --help' for options.\n",
	       LFS_NSLOTS);
}

static void list_help(void)
{
	printf("Usage: lethefs keyslot list [--json] [SECRET OPTIONS] VAULT\n"
	       "\n"
	       "Print each of VAULT's %d keyslots: its index, type (passphrase, keyfile,\n"
	       "extpass or empty), Argon2id parameters and label (keyslot add --label).\n"
	       "Reads only public metadata. Labels are authenticated under a key only the\n"
	       "vault's secret gives: without a secret option they are shown as not\n"
	       "verified; with one, a label that does not authenticate is shown as FORGED.\n"
	       "\n"
	       "Options:\n"
	       "  --json              print a JSON array of {slot, type, kdf, opslimit,\n"
	       "                      memlimit (bytes), label, label_verified}; empty slots\n"
	       "                      have slot and type only, unlabelled ones no label\n"
	       "Secret options (only to verify the labels):\n" LFS_SECRET_HELP
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 error, 2 usage, 3 wrong secret, 4 no vault, 5 corrupt vault\n"
	       "files.\n",
	       LFS_NSLOTS);
}

/* The slots with their labels: verified when a key is given. */
static void print_list(const struct lfs_vault *v, const struct lfs_slot_labels *l, bool keyed,
                       bool json)
{
	/* JSON: one compact array on one line, as every JSON output is
	 * (docs/CLI-ABI.md). */
	if (json)
		putchar('[');
	for (int i = 0; i < LFS_NSLOTS; i++) {
		const struct lfs_keyslot *s = &v->slots.slot[i];
		const struct lfs_slot_label *lab = lfs_labels_find(l, &v->slots, i, false);
		if (json) {
			char q[8 * LFS_LABEL_MAX + 16];
			printf("%s{\"slot\":%d,\"type\":\"%s\"", i ? "," : "", i,
			       lfs_slot_type_name(s->type));
			if (s->type != LFS_SLOT_EMPTY)
				printf(",\"kdf\":\"argon2id\",\"opslimit\":%llu,\"memlimit\":%llu",
				       (unsigned long long)s->opslimit,
				       (unsigned long long)s->memlimit);
			if (lab) {
				lfs_audit_json_quote(q, sizeof(q), lab->text);
				printf(",\"label\":%s,\"label_verified\":%s", q,
				       lab->verified ? "true" : "false");
			}
			putchar('}');
			continue;
		}
		lfs_print_slot("", i, s);
		if (lab)
			printf("        label \"%s\"%s\n", lab->text,
			       !keyed          ? " (not verified: give a secret option to check it)"
			       : lab->verified ? ""
			                       : " FORGED: it does not authenticate");
	}
	if (json)
		puts("]");
}

static int keyslot_list(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = lfs_secret_option("keyslot list", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			list_help();
			return LFS_EXIT_OK;
		} else {
			return lfs_cli_usage_error("keyslot list", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("keyslot list", "expected a VAULT argument");
	const char *path = argv[optind];
	bool keyed = src.passfile || src.passfd >= 0 || src.extpass || src.keyfile;
	struct lfs_vault v;
	uint8_t key[32];
	if (keyed) {
		struct lfs_keyring kr;
		int r = lfs_open_and_unlock(path, &src, &v, &kr);
		if (r != 0)
			return r;
		r = lfs_cli_labels_key(&kr, key);
		lfs_keyring_destroy(&kr);
		if (r < 0) {
			lfs_vault_close(&v);
			lfs_cli_error("cannot get the audit key: %s", strerror(-r));
			return LFS_EXIT_ERROR;
		}
	} else {
		char err[512];
		enum lfs_vault_error e = lfs_vault_open(path, &v, err, sizeof(err));
		if (e != LFS_VAULT_OK)
			return lfs_exit_for_vault_error(e, err);
	}
	struct lfs_slot_labels labels;
	lfs_cli_labels_load(&v, keyed ? key : NULL, &labels);
	sodium_memzero(key, sizeof(key));
	print_list(&v, &labels, keyed, json);
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
