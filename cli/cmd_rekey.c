/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs rekey: a new master key for an unmounted vault. Every kept
 * keyslot is re-wrapped with its own secret under the new key, the
 * keyring is re-sealed under it with one more data-key epoch (so that the
 * next mount re-encrypts everything and retires the old epochs), and the
 * audit key is carried over. See docs/KEYS.md and docs/ROTATION.md. */
#define _GNU_SOURCE
#include "cli.h"
#include "../cluster/lease.h"
#include "confirm.h"
#include "labels.h"
#include "../daemon/control.h"
#include "../daemon/recover.h"
#include "../audit/audit.h"
#include "../audit/audit_keyring.h"
#include "../staging/stage_store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#define MAX_ALSO LFS_NSLOTS

static void rekey_help(void)
{
	printf(
	    "Usage: lethefs rekey [SECRET OPTIONS] [--also-passfile F]... [--also-keyfile F]...\n"
	    "                     [--also-extpass CMD]... [--also-passfd N]...\n"
	    "                     [--drop-other-slots] [--dry-run] [-q] VAULT\n"
	    "\n"
	    "Give an unmounted vault a new random master key. The secret (default: asked on\n"
	    "the terminal) unlocks it and keeps the slot it opens; each --also-* secret must\n"
	    "open another used slot, which is kept too. Every kept slot is re-wrapped under\n"
	    "the new master key with its own secret, type and Argon2id parameters (fresh\n"
	    "salt and nonce). A used slot whose secret is not given makes rekey refuse,\n"
	    "unless --drop-other-slots: then it is emptied. Recovery keys exported before\n"
	    "stop working; export a new one ('lethefs key export').\n"
	    "\n"
	    "A new data-key epoch is added: the next mount re-encrypts every file under\n"
	    "it and then deletes the old epochs ('lethefs rotate --wait MOUNTPOINT'\n"
	    "follows it). Until that has finished, the old master key still decrypts the\n"
	    "files not yet re-encrypted, through an old copy of lethefs.keyring.\n"
	    "\n"
	    "The vault must not be mounted: the daemon holds the old master key and would\n"
	    "re-seal the keyring with it (exit 16).\n"
	    "\n"
	    "Secret options (the authenticating secret):\n" LFS_SECRET_HELP
	    "  --also-passfile F, --also-passfd N, --also-extpass CMD, --also-keyfile F\n"
	    "                      the secret of another slot to keep (repeatable)\n"
	    "  --drop-other-slots  empty the used slots whose secret was not given\n"
	    "  --dry-run           check the secrets and the vault, say which slots would\n"
	    "                      be kept and emptied, and change nothing\n"
	    "  -q, --batch         do not ask for confirmation (asked only when standard\n"
	    "                      input and error are a terminal)\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit codes: 0 rekeyed, 1 error (also: a slot's secret missing), 2 usage,\n"
	    "3 wrong secret, 4 no vault, 5 corrupt vault files, 16 the vault is mounted\n"
	    "(on this host or another: its lease names the holder).\n");
}

enum {
	OPT_ALSO_PASSFILE = 0x200,
	OPT_ALSO_PASSFD,
	OPT_ALSO_EXTPASS,
	OPT_ALSO_KEYFILE,
	OPT_DROP,
	OPT_DRY_RUN,
};

struct also {
	struct lfs_secret_source src;
	const char *opt, *arg; /* "--also-keyfile", "F": for messages */
};

struct rekey_args {
	struct lfs_secret_source src;
	struct also also[MAX_ALSO];
	int nalso;
	bool drop;
	bool dry_run, batch;
};

static int add_also(struct rekey_args *a, int c, const char *arg)
{
	if (a->nalso >= MAX_ALSO)
		return lfs_cli_usage_error("rekey", "at most %d --also-* secrets", MAX_ALSO);
	struct also *x = &a->also[a->nalso];
	memset(x, 0, sizeof(*x));
	x->src.passfd = -1;
	const char *name = "";
	switch (c) {
	case OPT_ALSO_PASSFILE:
		x->src.passfile = arg;
		name = "--also-passfile";
		break;
	case OPT_ALSO_PASSFD: {
		char *end;
		long fd = strtol(arg, &end, 10);
		if (*end || end == arg || fd < 0 || fd > 65535)
			return lfs_cli_usage_error("rekey", "bad --also-passfd '%s'", arg);
		x->src.passfd = (int)fd;
		name = "--also-passfd";
		break;
	}
	case OPT_ALSO_EXTPASS:
		x->src.extpass = arg;
		name = "--also-extpass";
		break;
	case OPT_ALSO_KEYFILE:
		x->src.keyfile = arg;
		name = "--also-keyfile";
		break;
	}
	x->opt = name;
	x->arg = arg;
	a->nalso++;
	return 0;
}

static int parse_rekey_args(int argc, char **argv, struct rekey_args *a)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"also-passfile", required_argument, NULL, OPT_ALSO_PASSFILE},
	    {"also-passfd", required_argument, NULL, OPT_ALSO_PASSFD},
	    {"also-extpass", required_argument, NULL, OPT_ALSO_EXTPASS},
	    {"also-keyfile", required_argument, NULL, OPT_ALSO_KEYFILE},
	    {"drop-other-slots", no_argument, NULL, OPT_DROP},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"batch", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		int handled = lfs_secret_option("rekey", c, optarg, &a->src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case OPT_ALSO_PASSFILE:
		case OPT_ALSO_PASSFD:
		case OPT_ALSO_EXTPASS:
		case OPT_ALSO_KEYFILE:
			if (add_also(a, c, optarg) != 0)
				return LFS_EXIT_USAGE;
			break;
		case OPT_DROP:
			a->drop = true;
			break;
		case OPT_DRY_RUN:
			a->dry_run = true;
			break;
		case 'q':
			a->batch = true;
			break;
		case 'h':
			rekey_help();
			return -1;
		default:
			return lfs_cli_usage_error("rekey", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("rekey", "expected exactly one VAULT argument");
	return 0;
}

/* Staging keys are wrapped under the master key: a rekey would leave them
 * unreadable, which is an early shred of a migration nobody asked for.
 * They must be shredded (or expire) first. */
static int refuse_live_staging(const char *path, struct lfs_vault *v)
{
	int sfd = lfs_stage_dir_open(v->dirfd, false);
	if (sfd == -ENOENT)
		return LFS_EXIT_OK;
	/* The key files, not the index: an index can be lost or edited. */
	struct lfs_stage_found *f = NULL;
	size_t nf = 0, n = 0;
	int r = sfd < 0 ? sfd : lfs_stage_scan(sfd, &f, &nf);
	if (sfd >= 0)
		close(sfd);
	if (r < 0) {
		lfs_cli_error("cannot read the staging directories of %s: %s", path, strerror(-r));
		return LFS_EXIT_CORRUPT;
	}
	for (size_t i = 0; i < nf; i++)
		n += f[i].key;
	free(f);
	if (n == 0)
		return LFS_EXIT_OK;
	lfs_cli_error("%s has %zu live staging director%s, whose keys are wrapped under the "
	              "master key: rekey would make them unreadable. Shred them first (lethefs "
	              "stage shred, or let them expire and run lethefs shred-expired)",
	              path, n, n == 1 ? "y" : "ies");
	return LFS_EXIT_ERROR;
}

static void say_waiting(void)
{
	fprintf(stderr, "lethefs: another command is changing the keyslots; waiting...\n");
}

/* Which used slot (other than those already taken) the secret opens, to
 * the same master key. -1 when none. */
static int match_slot(const struct lfs_keyslots *ks, const bool taken[LFS_NSLOTS],
                      const struct lfs_secret *s, const uint8_t *master, uint8_t *scratch)
{
	for (int i = 0; i < LFS_NSLOTS; i++) {
		if (taken[i] || ks->slot[i].type == LFS_SLOT_EMPTY)
			continue;
		if (lfs_keyslot_unwrap(ks, i, s->data, s->len, scratch) == 0 &&
		    sodium_memcmp(scratch, master, LFS_MASTER_KEY_LEN) == 0)
			return i;
	}
	return -1;
}

static void list_slots(char *out, size_t len, const bool set[LFS_NSLOTS])
{
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < LFS_NSLOTS && o + 4 < len; i++)
		if (set[i])
			o += (size_t)snprintf(out + o, len - o, "%s%d", o ? "," : "", i);
	if (!o)
		snprintf(out, len, "none");
}

struct rekey {
	const char *path;
	struct lfs_vault v;
	struct lfs_keyring kr;
	bool unlocked;
	int opened;
	struct lfs_secret secret[LFS_NSLOTS]; /* per kept slot */
	bool keep[LFS_NSLOTS], drop[LFS_NSLOTS];
	bool stopped;  /* --dry-run, or not confirmed: nothing was done */
	uint8_t *keys; /* sodium_malloc: old master, new master, scratch, audit key */
};

/* Reads every --also-* secret and assigns it to the slot it opens. */
static int match_also(struct rekey *k, const struct rekey_args *a)
{
	const uint8_t *old = k->keys;
	uint8_t *scratch = k->keys + 2 * LFS_MASTER_KEY_LEN;
	for (int j = 0; j < a->nalso; j++) {
		char err[512];
		struct lfs_secret s;
		if (lfs_secret_read(&a->also[j].src, false, "Secret of another keyslot: ", &s, err,
		                    sizeof(err)) < 0) {
			lfs_cli_error("%s %s: %s", a->also[j].opt, a->also[j].arg, err);
			return LFS_EXIT_ERROR;
		}
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "Checking %s %s against the other keyslots (Argon2id)...\n",
			        a->also[j].opt, a->also[j].arg);
		int idx = match_slot(&k->v.slots, k->keep, &s, old, scratch);
		if (idx < 0) {
			lfs_secret_free(&s);
			lfs_cli_error("the secret of %s %s opens no other used keyslot of %s",
			              a->also[j].opt, a->also[j].arg, k->path);
			return LFS_EXIT_BAD_SECRET;
		}
		k->keep[idx] = true;
		k->secret[idx] = s;
	}
	return LFS_EXIT_OK;
}

/* New keyslot table: each kept slot re-wrapped under the new master with
 * its own type and Argon2id parameters; the others emptied. */
static int rewrap(struct rekey *k, struct lfs_keyslots *ks)
{
	const uint8_t *fresh = k->keys + LFS_MASTER_KEY_LEN;
	*ks = k->v.slots;
	for (int i = 0; i < LFS_NSLOTS; i++) {
		struct lfs_keyslot *s = &ks->slot[i];
		if (!k->keep[i]) {
			memset(s, 0, sizeof(*s));
			continue;
		}
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "Re-wrapping keyslot %d (%s, Argon2id %llu MiB)...\n", i,
			        lfs_slot_type_name(s->type),
			        (unsigned long long)(s->memlimit >> 20));
		int r = lfs_keyslot_wrap(ks, i, s->type, k->secret[i].data, k->secret[i].len,
		                         s->opslimit, s->memlimit, fresh);
		if (r < 0) {
			lfs_cli_error(r == -ENOMEM
			                  ? "out of memory while deriving the key of slot %d "
			                    "(Argon2id)"
			                  : "cannot wrap the new master key in slot %d",
			              i);
			return LFS_EXIT_ERROR;
		}
	}
	return LFS_EXIT_OK;
}

/* The keyring under the new master: the audit key carried over, one more
 * data epoch (current), sealed into ring. */
static int reseal(struct rekey *k, uint8_t *ring, size_t *ring_len, uint32_t *epoch)
{
	uint8_t *audit = k->keys + 3 * LFS_MASTER_KEY_LEN;
	const uint8_t *fresh = k->keys + LFS_MASTER_KEY_LEN;
	int r = lfs_audit_key_from(&k->kr, audit);
	if (r == 0)
		r = lfs_keyring_set_audit_key(&k->kr, audit);
	if (r == 0)
		r = lfs_keyring_set_master(&k->kr, fresh);
	if (r == 0)
		r = lfs_keyring_add_epoch(&k->kr, epoch);
	if (r == 0)
		r = lfs_keyring_seal(&k->kr, ring, ring_len);
	if (r == -ENOSPC) {
		lfs_cli_error("the keyring of %s is full (%d epochs): mount it and let the "
		              "running rotation finish first",
		              k->path, LFS_MAX_EPOCHS);
		return LFS_EXIT_ERROR;
	}
	if (r < 0) {
		lfs_cli_error("cannot re-seal the keyring: %s", strerror(-r));
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}

static int run_rekey(struct rekey *k, const struct rekey_args *a, uint32_t *epoch)
{
	struct lfs_secret main_secret = {0};
	int r = lfs_unlock_vault(k->path, &k->v, &a->src, &k->kr, &k->opened, &main_secret);
	if (r != LFS_EXIT_OK)
		return r;
	k->unlocked = true;
	if (k->opened >= 0) { /* its slot is kept, re-wrapped with the same secret */
		k->keep[k->opened] = true;
		k->secret[k->opened] = main_secret;
	} else {
		lfs_secret_free(&main_secret); /* a recovery key opens no slot */
	}
	/* What a crash left half done is finished under the old master first:
	 * its journal records would not authenticate under the new one. (Not
	 * in a dry run, which writes nothing.) */
	struct lfs_recovery rc = {0};
	if (!a->dry_run && ((r = lfs_recover_vault(&k->v, &k->kr, &rc)) < 0 || rc.failed)) {
		lfs_cli_error("cannot finish the updates a crash interrupted in %s (%s): mount it "
		              "once, then rekey; nothing was changed",
		              k->path, r < 0 ? strerror(-r) : "see the log");
		return LFS_EXIT_ERROR;
	}
	if ((r = lfs_keyring_copy_master(&k->kr, k->keys)) < 0) {
		lfs_cli_error("cannot read the master key: %s", strerror(-r));
		return LFS_EXIT_ERROR;
	}
	if ((r = match_also(k, a)) != 0)
		return r;

	int nkeep = 0, ndrop = 0;
	for (int i = 0; i < LFS_NSLOTS; i++) {
		k->drop[i] = k->v.slots.slot[i].type != LFS_SLOT_EMPTY && !k->keep[i];
		nkeep += k->keep[i];
		ndrop += k->drop[i];
	}
	char dropped[64];
	list_slots(dropped, sizeof(dropped), k->drop);
	if (ndrop && !a->drop) {
		lfs_cli_error("no secret given for keyslot(s) %s of %s: give each with --also-* "
		              "(--also-passfile, --also-keyfile, --also-extpass, --also-passfd), "
		              "or confirm that they are to be emptied with --drop-other-slots; "
		              "nothing was changed",
		              dropped, k->path);
		return LFS_EXIT_ERROR;
	}
	if (!nkeep) {
		lfs_cli_error("rekey would leave %s without any keyslot, and the new master key "
		              "with nobody: give at least one slot's secret; nothing was changed",
		              k->path);
		return LFS_EXIT_ERROR;
	}

	char kept[64];
	list_slots(kept, sizeof(kept), k->keep);
	if (a->dry_run) {
		k->stopped = true;
		printf("Would give %s a new master key; keyslots kept (re-wrapped): %s; emptied: "
		       "%s;\nexported recovery keys would stop working and a new data-key epoch "
		       "would be added.\nNothing was changed (--dry-run).\n",
		       k->path, kept, ndrop ? dropped : "none");
		return LFS_EXIT_OK;
	}
	if (!lfs_confirm(a->batch,
	                 "Give %s a new master key? Keyslots kept: %s; emptied: %s; recovery keys "
	                 "exported before stop working.",
	                 k->path, kept, ndrop ? dropped : "none")) {
		k->stopped = true;
		return LFS_EXIT_ERROR;
	}
	/* Any .new here was left by a rekey killed before it replaced the
	 * keyslots (the current keyring opened under the current master). */
	lfs_vault_remove_stale_rekey(&k->v);
	randombytes_buf(k->keys + LFS_MASTER_KEY_LEN, LFS_MASTER_KEY_LEN);
	struct lfs_keyslots ks;
	uint8_t ring[LFS_KEYRING_MAX_FILE_LEN];
	size_t ring_len = 0;
	if ((r = rewrap(k, &ks)) != 0 || (r = reseal(k, ring, &ring_len, epoch)) != 0)
		return r;
	/* Every kept slot keeps its label (keyed by the audit key, which the
	 * rekey keeps); the re-wrapped slots need their records rewritten. */
	uint8_t lkey[32];
	struct lfs_slot_labels next;
	int lr = lfs_cli_labels_key(&k->kr, lkey);
	if (lr == 0)
		lr = lfs_cli_labels_begin(&k->v, lkey, &ks, -1, NULL, &next);
	if (lr < 0)
		lfs_cli_error("warning: the keyslot labels of %s are not carried over: %s", k->path,
		              strerror(-lr));
	int e = lfs_vault_store_rekey(&k->v, ring, ring_len, &ks, k->keys + LFS_MASTER_KEY_LEN);
	sodium_memzero(&ks, sizeof(ks));
	if (e == 0 && lr == 0)
		lfs_cli_labels_finish(&k->v, lkey, &next);
	sodium_memzero(lkey, sizeof(lkey));
	if (e < 0) {
		lfs_cli_error("cannot write the new key files of %s: %s", k->path, strerror(-e));
		return LFS_EXIT_ERROR;
	}
	/* The new epoch is of format 2 (docs/FORMAT.md 14.7): a format-1
	 * vault is of format 2 from now on, its objects converted by the
	 * next mount's rotation. (Should this fail, that mount writes it.) */
	if (k->v.cfg.format == 1 && lfs_keyring_format(&k->kr) == 2) {
		k->v.cfg.format = 2;
		if (lfs_vault_store_format(&k->v) < 0)
			lfs_cli_error(
			    "warning: lethefs.conf of %s could not be set to format 2; the "
			    "next mount does it",
			    k->path);
	}
	return LFS_EXIT_OK;
}

int lfs_cmd_rekey(int argc, char **argv)
{
	struct rekey_args a = {.src = {.passfd = -1}};
	int r = parse_rekey_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? LFS_EXIT_OK : r;
	if (a.drop && a.nalso == 0 && a.src.recovery)
		return lfs_cli_usage_error("rekey", "a recovery key keeps no slot: with "
		                                    "--drop-other-slots give at least one --also-* "
		                                    "secret");

	struct rekey k;
	memset(&k, 0, sizeof(k));
	k.path = argv[optind];
	k.stopped = a.dry_run; /* a dry run writes nothing, not even its refusals */
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open(k.path, &k.v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	struct lfs_control ctl;
	if ((r = lfs_claim_vault("rekey", k.path, &k.v, &ctl)) != 0) {
		lfs_vault_close(&k.v);
		return r;
	}
	/* Any host's mount (shared or not) holds the vault lease: the control
	 * socket above only covers this host. Held throughout. */
	struct lfs_lease lease;
	if ((r = lfs_cli_take_vault(&k.v, k.path, "rekey", &lease, false)) != 0) {
		lfs_control_stop(&ctl);
		lfs_vault_close(&k.v);
		return r;
	}
	if ((r = refuse_live_staging(k.path, &k.v)) != 0) {
		lfs_lease_release(&lease);
		lfs_control_stop(&ctl);
		lfs_vault_close(&k.v);
		return r;
	}
	/* Held throughout: nobody changes a slot between the check of the
	 * secrets and the re-wrap. */
	int lockfd = lfs_vault_lock_slots(&k.v, say_waiting);
	k.keys = sodium_malloc(4 * LFS_MASTER_KEY_LEN);
	uint32_t epoch = 0;
	if (lockfd < 0) {
		lfs_cli_error("cannot lock %s/%s: %s", k.path, LFS_LOCK_FILE_NAME,
		              strerror(-lockfd));
		r = LFS_EXIT_ERROR;
	} else if (!k.keys) {
		lfs_cli_error("out of memory");
		r = LFS_EXIT_ERROR;
	} else if ((r = lfs_vault_reload_slots(&k.v)) < 0) {
		lfs_cli_error("cannot re-read %s/%s", k.path, LFS_KEYSLOTS_FILE_NAME);
		r = LFS_EXIT_CORRUPT;
	} else {
		r = run_rekey(&k, &a, &epoch);
	}

	char kept[64], dropped[64];
	list_slots(kept, sizeof(kept), k.keep);
	list_slots(dropped, sizeof(dropped), k.drop);
	if (k.unlocked && !k.stopped) {
		/* Keyed with the audit key, which the rekey keeps. */
		struct lfs_audit_detail d[] = {{"kept_slots", kept, 0},
		                               {"dropped_slots", dropped, 0},
		                               {"by_slot", NULL, k.opened},
		                               {"epoch", NULL, (long long)epoch}};
		if (lfs_cli_audit(&k.v, &k.kr, "rekey", r == 0 ? "success" : "failure", d,
		                  r == 0 ? 4 : 3) < 0 &&
		    r == 0)
			r = LFS_EXIT_ERROR;
		lfs_keyring_destroy(&k.kr);
	}
	for (int i = 0; i < LFS_NSLOTS; i++)
		if (k.secret[i].data)
			lfs_secret_free(&k.secret[i]);
	if (k.keys)
		sodium_free(k.keys);
	lfs_vault_unlock_slots(lockfd);
	lfs_lease_release(&lease);
	lfs_control_stop(&ctl);
	lfs_vault_close(&k.v);
	if (k.unlocked && k.stopped)
		lfs_keyring_destroy(&k.kr);
	if (r == 0 && !k.stopped) {
		printf("Rekeyed %s: new master key; keyslots kept: %s; dropped: %s.\n", k.path,
		       kept, dropped);
		printf("Recovery keys exported before no longer work: run 'lethefs key export' "
		       "for a new one.\n"
		       "Data-key epoch %u was added. Mount the vault: its daemon re-encrypts every "
		       "file\n"
		       "under the new epoch, then deletes the old epochs from lethefs.keyring "
		       "('lethefs rotate\n"
		       "--wait MOUNTPOINT' waits for that). Until then, the old master key with an "
		       "old copy\n"
		       "of lethefs.keyring still decrypts the files not yet re-encrypted.\n",
		       epoch);
	}
	return r;
}
