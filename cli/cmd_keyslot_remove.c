/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs keyslot remove: empty one keyslot, never the last one. */
#include "cli.h"
#include "confirm.h"
#include "../audit/audit.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void remove_help(void)
{
	printf("Usage: lethefs keyslot remove --slot N [SECRET OPTIONS] [--dry-run] [-q] VAULT\n"
	       "\n"
	       "Unlock VAULT with a secret that opens any keyslot (slot N itself included) or\n"
	       "with a recovery key, then empty slot N: its 128 bytes become zeros in a new\n"
	       "keyslot file, written atomically. The last used slot is never removed: the\n"
	       "vault would then open only with a recovery key, if one was exported.\n"
	       "\n"
	       "Options:\n"
	       "  --slot N            the slot to empty (required)\n" LFS_SECRET_HELP
	       "  --dry-run           authenticate and check, say what would be removed, and\n"
	       "                      change nothing\n"
	       "  -q, --batch         do not ask for confirmation (asked only when standard\n"
	       "                      input and error are a terminal)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 removed, 1 error (also: slot N empty, or the last used slot),\n"
	       "2 usage, 3 wrong secret, 4 no vault, 5 corrupt vault files.\n");
}

/* Why slot idx may not be removed, or NULL if it may. */
static const char *refusal(const struct lfs_keyslots *ks, int idx)
{
	if (ks->slot[idx].type == LFS_SLOT_EMPTY)
		return "it is already empty";
	if (lfs_keyslots_count_used(ks) == 1)
		return "it is the last used keyslot, and without one the vault opens only with "
		       "a recovery key; add another slot first";
	return NULL;
}

static int check_removable(const struct lfs_keyslots *ks, int idx, const char *path)
{
	const char *why = refusal(ks, idx);
	if (!why)
		return 0;
	lfs_cli_error("refusing to remove slot %d of %s: %s", idx, path, why);
	return LFS_EXIT_ERROR;
}

int lfs_cmd_keyslot_remove(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"slot", required_argument, NULL, 's'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"batch", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	int slot = -1, c;
	bool dry_run = false, batch = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		int handled = lfs_secret_option("keyslot remove", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 's':
			if (lfs_parse_slot("keyslot remove", optarg, &slot) < 0)
				return LFS_EXIT_USAGE;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'q':
			batch = true;
			break;
		case 'h':
			remove_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("keyslot remove", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("keyslot remove", "expected exactly one VAULT argument");
	if (slot < 0)
		return lfs_cli_usage_error("keyslot remove", "--slot N is required");
	const char *path = argv[optind];

	struct lfs_slot_change ch;
	char label[LFS_LABEL_MAX + 1] = "";
	int r = lfs_change_begin(path, &src, &ch);
	if (r != 0)
		return r;
	r = check_removable(&ch.v.slots, slot, path);
	bool refused = r != 0;
	const char *type = lfs_slot_type_name(ch.v.slots.slot[slot].type);
	int left = lfs_keyslots_count_used(&ch.v.slots) - 1;
	if (dry_run) { /* writes nothing, not even its refusals */
		if (r != 0) {
			lfs_change_end(&ch);
			return r;
		}
		printf("Would remove keyslot %d (%s) of %s; %d used slot%s would remain. Nothing "
		       "was changed (--dry-run).\n",
		       slot, type, path, left, left == 1 ? "" : "s");
		lfs_change_end(&ch);
		return LFS_EXIT_OK;
	}
	if (r == 0 &&
	    !lfs_confirm(batch,
	                 "Remove keyslot %d (%s) of %s? Its secret will no longer open "
	                 "the vault; %d used slot%s remain%s.",
	                 slot, type, path, left, left == 1 ? "" : "s", left == 1 ? "s" : "")) {
		lfs_change_end(&ch);
		return LFS_EXIT_ERROR;
	}
	if (r == 0)
		r = lfs_change_lock(&ch);
	if (r == 0) {
		/* The file may have changed while we were unlocking. */
		struct lfs_keyslots ks = ch.v.slots;
		r = check_removable(&ks, slot, path);
		refused = r != 0;
		if (r == 0) {
			lfs_change_label_of(&ch, slot, label);
			memset(&ks.slot[slot], 0, sizeof(ks.slot[slot]));
			r = lfs_change_store(&ch, &ks);
		}
	}
	struct lfs_audit_detail d[] = {
	    {"slot", NULL, slot}, {"by_slot", NULL, ch.opened}, {"label", label, 0}};
	if (lfs_cli_audit(&ch.v, &ch.kr, "keyslot-remove",
	                  r == 0    ? "success"
	                  : refused ? "refused"
	                            : "failure",
	                  d, label[0] ? 3 : 2) < 0 &&
	    r == 0)
		r = LFS_EXIT_ERROR;
	lfs_change_end(&ch);
	if (r == 0)
		printf("Removed keyslot %d of %s\n", slot, path);
	return r;
}
