/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs keyslot add: wrap the master key under one more secret. */
#include "cli.h"
#include "passquality.h"
#include "../audit/audit.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void add_help(void)
{
	printf("Usage: lethefs keyslot add [NEW-SECRET OPTIONS] [--slot N] [--label TEXT]\n"
	       "                           [SECRET OPTIONS] VAULT\n"
	       "\n"
	       "Unlock VAULT with an existing secret (any keyslot, or a recovery key), then\n"
	       "wrap the master key in a free keyslot under a new secret. Prints the slot\n"
	       "that was filled. Existing slots are not touched; the keyslot file is\n"
	       "rewritten atomically.\n"
	       "\n"
	       "Secret options (the existing secret; default: asked on the "
	       "terminal):\n" LFS_SECRET_HELP "\n"
	       "New-secret options:\n" LFS_NEW_SECRET_HELP
	       "  --slot N            fill slot N (it must be empty; default: the first empty)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 added, 1 error (also: no free slot, slot N in use), 2 usage,\n"
	       "3 wrong secret, 4 no vault, 5 corrupt vault files.\n");
}

static int parse_add_args(int argc, char **argv, struct lfs_change_args *a)
{
	int r = lfs_parse_change_args("keyslot add", argc, argv, a, add_help);
	if (r != 0)
		return r;
	if (a->ns.src.recovery)
		return lfs_cli_usage_error("keyslot add", "a recovery key cannot be a slot's "
		                                          "secret");
	return 0;
}

/* The requested slot if it is free, else the first free one; -1 if none. */
static int pick_slot(const struct lfs_keyslots *ks, int wanted, const char *path)
{
	if (wanted >= 0) {
		if (ks->slot[wanted].type == LFS_SLOT_EMPTY)
			return wanted;
		lfs_cli_error("slot %d of %s is in use; remove it first or choose another", wanted,
		              path);
		return -1;
	}
	for (int i = 0; i < LFS_NSLOTS; i++)
		if (ks->slot[i].type == LFS_SLOT_EMPTY)
			return i;
	lfs_cli_error("all %d keyslots of %s are in use; remove one first", LFS_NSLOTS, path);
	return -1;
}

int lfs_cmd_keyslot_add(int argc, char **argv)
{
	struct lfs_change_args a = {.src = {.passfd = -1}, .ns = LFS_NEW_SECRET_INIT, .slot = -1};
	int r = parse_add_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? LFS_EXIT_OK : r;
	const char *path = argv[optind];
	enum lfs_slot_type type;
	struct lfs_kdf_params kdf;
	if ((r = lfs_new_secret_resolve("keyslot add", &a.ns, NULL, &type, &kdf)) != 0)
		return r;

	struct lfs_slot_change c;
	if ((r = lfs_change_begin(path, &a.src, &c)) != 0)
		return r;
	/* Checked now so that a full table is reported before any prompt, and
	 * again under the lock, where it counts. */
	if (pick_slot(&c.v.slots, a.slot, path) < 0) {
		lfs_change_end(&c);
		return LFS_EXIT_ERROR;
	}
	char err[512];
	struct lfs_secret s = {0};
	if (lfs_secret_read(&a.ns.src, true, "New passphrase: ", &s, err, sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		lfs_change_end(&c);
		return LFS_EXIT_ERROR;
	}
	if (type == LFS_SLOT_PASSPHRASE)
		lfs_warn_weak_passphrase(s.data, s.len);
	int idx = -1;
	if ((r = lfs_change_lock(&c)) == 0) {
		struct lfs_keyslots ks = c.v.slots;
		idx = pick_slot(&ks, a.slot, path);
		r = idx < 0 ? LFS_EXIT_ERROR : lfs_change_wrap(&c, &ks, idx, type, &s, &kdf);
		c.new_label = a.label;
		c.label_slot = idx;
		if (r == 0)
			r = lfs_change_store(&c, &ks);
		struct lfs_audit_detail d[] = {{"slot", NULL, idx},
		                               {"type", lfs_slot_type_name(type), 0},
		                               {"by_slot", NULL, c.opened},
		                               {"label", a.label, 0}};
		if (lfs_cli_audit(&c.v, &c.kr, "keyslot-add", r == 0 ? "success" : "failure", d,
		                  a.label ? 4 : 3) < 0 &&
		    r == 0)
			r = LFS_EXIT_ERROR;
	}
	lfs_secret_free(&s);
	lfs_change_end(&c);
	if (r == 0 && a.label)
		printf("Added keyslot %d (%s, \"%s\") to %s\n", idx, lfs_slot_type_name(type),
		       a.label, path);
	else if (r == 0)
		printf("Added keyslot %d (%s) to %s\n", idx, lfs_slot_type_name(type), path);
	return r;
}
