/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs passwd: replace the secret of the keyslot the given secret opens. */
#include "cli.h"
#include "passquality.h"
#include "../audit/audit.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void passwd_help(void)
{
	printf("Usage: lethefs passwd [SECRET OPTIONS] [NEW-SECRET OPTIONS] VAULT\n"
	       "\n"
	       "Change the secret of the keyslot that the current secret opens: the same slot\n"
	       "is rewrapped under the new secret with a fresh salt and nonce; other slots are\n"
	       "untouched, and the old secret stops working. On a terminal the current\n"
	       "passphrase is asked, then the new one twice.\n"
	       "\n"
	       "The slot's type follows the new secret's source (--type to override it);\n"
	       "its Argon2id parameters are kept when the type stays the same.\n"
	       "\n"
	       "Secret options (the current secret):\n" LFS_SECRET_HELP
	       "  --slot N            with --recovery-key (which opens no slot): the used\n"
	       "                      slot whose secret is replaced, e.g. a forgotten one\n"
	       "\n"
	       "New-secret options:\n" LFS_NEW_SECRET_HELP "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 changed, 1 error, 2 usage, 3 wrong secret, 4 no vault,\n"
	       "5 corrupt vault files.\n");
}

static int parse_passwd_args(int argc, char **argv, struct lfs_change_args *a)
{
	int r = lfs_parse_change_args("passwd", argc, argv, a, passwd_help);
	if (r != 0)
		return r;
	/* A secret names its own slot; only a recovery key needs to be told. */
	if (a->src.recovery && a->slot < 0)
		return lfs_cli_usage_error("passwd", "with --recovery-key, name the slot to change "
		                                     "with --slot N");
	if (!a->src.recovery && a->slot >= 0)
		return lfs_cli_usage_error("passwd", "--slot is only for --recovery-key; the "
		                                     "secret given decides the slot");
	return 0;
}

/* The slot to rewrap: the one that opened, or --slot for a recovery key. */
static int target_slot(const struct lfs_slot_change *c, const struct lfs_change_args *a)
{
	int idx = c->opened >= 0 ? c->opened : a->slot;
	if (c->v.slots.slot[idx].type != LFS_SLOT_EMPTY)
		return idx;
	lfs_cli_error("slot %d of %s is empty; use 'lethefs keyslot add --slot %d'", idx, c->path,
	              idx);
	return -1;
}

int lfs_cmd_passwd(int argc, char **argv)
{
	struct lfs_change_args a = {.src = {.passfd = -1}, .ns = LFS_NEW_SECRET_INIT, .slot = -1};
	int r = parse_passwd_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? LFS_EXIT_OK : r;
	const char *path = argv[optind];

	struct lfs_slot_change c;
	if ((r = lfs_change_begin(path, &a.src, &c)) != 0)
		return r;
	enum lfs_slot_type type;
	struct lfs_kdf_params kdf;
	int idx = target_slot(&c, &a);
	r = idx < 0 ? LFS_EXIT_ERROR : 0;
	char err[512];
	struct lfs_secret s = {0};
	if (r == 0 &&
	    lfs_secret_read(&a.ns.src, true, "New passphrase: ", &s, err, sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		r = LFS_EXIT_ERROR;
	}
	if (r == 0)
		r = lfs_change_lock(&c);
	if (r == 0) {
		/* Under the lock the slot may have moved (re-checked) or emptied. */
		idx = target_slot(&c, &a);
		r = idx < 0 ? LFS_EXIT_ERROR : 0;
	}
	struct lfs_keyslots ks = c.v.slots;
	if (r == 0)
		/* Parameters are kept only from the slot the secret opened: a
		 * slot reset with a recovery key failed to open and may have
		 * been edited (cheap Argon2id); it gets the defaults. */
		r = lfs_new_secret_resolve("passwd", &a.ns, c.opened == idx ? &ks.slot[idx] : NULL,
		                           &type, &kdf);
	if (r == 0 && type == LFS_SLOT_PASSPHRASE)
		lfs_warn_weak_passphrase(s.data, s.len);
	if (r == 0)
		r = lfs_change_wrap(&c, &ks, idx, type, &s, &kdf);
	if (r == 0) {
		/* The slot keeps its label, unless --label gives a new one. */
		char label[LFS_LABEL_MAX + 1];
		c.new_label = a.label ? a.label : lfs_change_label_of(&c, idx, label);
		c.new_label = c.new_label[0] ? c.new_label : NULL;
		c.label_slot = idx;
		r = lfs_change_store(&c, &ks);
		struct lfs_audit_detail d[] = {{"slot", NULL, idx},
		                               {"type", lfs_slot_type_name(type), 0},
		                               {"by_slot", NULL, c.opened},
		                               {"label", c.new_label, 0}};
		if (lfs_cli_audit(&c.v, &c.kr, "passwd", r == 0 ? "success" : "failure", d,
		                  c.new_label ? 4 : 3) < 0 &&
		    r == 0)
			r = LFS_EXIT_ERROR;
	}
	lfs_secret_free(&s);
	lfs_change_end(&c);
	if (r == 0)
		printf("Changed the secret of keyslot %d of %s (%s)\n", idx, path,
		       lfs_slot_type_name(type));
	return r;
}
