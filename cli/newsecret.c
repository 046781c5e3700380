/* SPDX-License-Identifier: Apache-2.0 */
/* Options that describe the secret of a keyslot being created (keyslot
 * add, passwd): where it comes from, the slot's type and its Argon2id
 * parameters. */
#include "cli.h"
#include "../keymgmt/kdf_bounds.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

int lfs_new_secret_option(const char *cmd, int c, const char *arg, struct lfs_new_secret *ns)
{
	switch (c) {
	case LFS_OPT_NEW_PASSFILE:
		ns->src.passfile = arg;
		return 1;
	case LFS_OPT_NEW_PASSFD: {
		char *end;
		long fd = strtol(arg, &end, 10);
		if (*end || end == arg || fd < 0 || fd > 65535) {
			lfs_cli_usage_error(cmd, "bad --new-passfd '%s'", arg);
			return -1;
		}
		ns->src.passfd = (int)fd;
		return 1;
	}
	case LFS_OPT_NEW_EXTPASS:
		ns->src.extpass = arg;
		return 1;
	case LFS_OPT_NEW_KEYFILE:
		ns->src.keyfile = arg;
		return 1;
	case LFS_OPT_TYPE:
		if (!strcmp(arg, "passphrase"))
			ns->type = LFS_SLOT_PASSPHRASE;
		else if (!strcmp(arg, "keyfile"))
			ns->type = LFS_SLOT_KEYFILE;
		else if (!strcmp(arg, "extpass"))
			ns->type = LFS_SLOT_EXTPASS;
		else {
			lfs_cli_usage_error(cmd,
			                    "unknown --type '%s' (passphrase, keyfile or "
			                    "extpass)",
			                    arg);
			return -1;
		}
		return 1;
	case LFS_OPT_KDF_OPS:
		if (lfs_parse_size(arg, &ns->kdf.opslimit) < 0) {
			lfs_cli_usage_error(cmd, "bad --kdf-ops '%s'", arg);
			return -1;
		}
		ns->kdf_ops_given = true;
		return 1;
	case LFS_OPT_KDF_MEM:
		if (lfs_parse_size(arg, &ns->kdf.memlimit) < 0) {
			lfs_cli_usage_error(cmd, "bad --kdf-mem '%s'", arg);
			return -1;
		}
		ns->kdf_mem_given = true;
		return 1;
	case LFS_OPT_ALLOW_WEAK_KDF:
		ns->allow_weak = true;
		return 1;
	}
	return 0;
}

int lfs_kdf_params_check(const char *cmd, enum lfs_slot_type type, const struct lfs_kdf_params *kdf,
                         bool allow_weak)
{
	enum lfs_kdf_verdict v =
	    lfs_kdf_bounds_write((uint8_t)type, kdf->opslimit, kdf->memlimit, allow_weak);
	if (v == LFS_KDF_ABOVE_CEILING)
		return lfs_cli_usage_error(cmd,
		                           "Argon2id parameters too costly: at most %llu passes, "
		                           "%llu MiB, and passes x memory <= %llu MiB",
		                           LFS_KDF_CEIL_OPS, LFS_KDF_CEIL_MEM >> 20,
		                           LFS_KDF_CEIL_WORK >> 20);
	if (v == LFS_KDF_BELOW_FLOOR && type == LFS_SLOT_PASSPHRASE && !allow_weak)
		return lfs_cli_usage_error(cmd,
		                           "Argon2id parameters below the floor for a passphrase "
		                           "slot (at least %llu passes over %llu MiB); "
		                           "--allow-weak-kdf permits less, for tests only",
		                           LFS_KDF_FLOOR_OPS, LFS_KDF_FLOOR_MEM >> 20);
	if (v == LFS_KDF_BELOW_FLOOR)
		return lfs_cli_usage_error(cmd, "Argon2id parameters below the minimum (%s)",
		                           type == LFS_SLOT_PASSPHRASE ? "1 pass over 8 MiB"
		                                                       : "1 pass over 8 KiB");
	if (allow_weak &&
	    lfs_kdf_bounds_write((uint8_t)type, kdf->opslimit, kdf->memlimit, false) != LFS_KDF_OK)
		fprintf(stderr,
		        "lethefs: WARNING: this keyslot's Argon2id parameters (%llu passes, %llu "
		        "MiB) are below the floor: guessing its passphrase from a stolen vault "
		        "is cheap. For tests only.\n",
		        (unsigned long long)kdf->opslimit,
		        (unsigned long long)(kdf->memlimit >> 20));
	return 0;
}

/* The type a source implies: a key file's raw bytes make a keyfile slot, a
 * program's output an extpass slot, anything typed or piped a passphrase. */
static enum lfs_slot_type type_of_source(const struct lfs_secret_source *src)
{
	if (src->keyfile)
		return LFS_SLOT_KEYFILE;
	if (src->extpass)
		return LFS_SLOT_EXTPASS;
	return LFS_SLOT_PASSPHRASE;
}

int lfs_new_secret_resolve(const char *cmd, const struct lfs_new_secret *ns,
                           const struct lfs_keyslot *keep, enum lfs_slot_type *type,
                           struct lfs_kdf_params *kdf)
{
	enum lfs_slot_type implied = type_of_source(&ns->src);
	*type = ns->type < 0 ? implied : (enum lfs_slot_type)ns->type;
	/* A label that contradicts how the secret is read would mislead whoever
	 * later has to unlock with it; only an extpass secret may be called a
	 * passphrase (init did so before slot types were recorded). */
	if (*type != implied && !(*type == LFS_SLOT_PASSPHRASE && implied == LFS_SLOT_EXTPASS))
		return lfs_cli_usage_error(cmd, "--type %s needs %s", lfs_slot_type_name(*type),
		                           *type == LFS_SLOT_KEYFILE   ? "--new-keyfile"
		                           : *type == LFS_SLOT_EXTPASS ? "--new-extpass"
		                                                       : "a passphrase source");
	/* keep is a slot the given secret opened (its parameters are
	 * authentic: the owner's earlier choice), never one that failed to
	 * open: those may have been edited to make guessing cheap. */
	bool kept = false;
	if (keep && keep->type == *type &&
	    lfs_kdf_bounds_open(keep->type, keep->opslimit, keep->memlimit) == LFS_KDF_OK) {
		kdf->opslimit = keep->opslimit;
		kdf->memlimit = keep->memlimit;
		kept = true;
	} else if (*type == LFS_SLOT_KEYFILE) {
		kdf->opslimit = LFS_KDF_KEYFILE_OPS;
		kdf->memlimit = LFS_KDF_KEYFILE_MEM;
	} else {
		kdf->opslimit = LFS_KDF_DEFAULT_OPS;
		kdf->memlimit = LFS_KDF_DEFAULT_MEM;
	}
	if (ns->kdf_ops_given)
		kdf->opslimit = ns->kdf.opslimit;
	if (ns->kdf_mem_given)
		kdf->memlimit = ns->kdf.memlimit;
	/* Kept parameters passed the opening bounds; only a new choice must
	 * pass the floor for writing. */
	if (kept && !ns->kdf_ops_given && !ns->kdf_mem_given)
		return 0;
	return lfs_kdf_params_check(cmd, *type, kdf, ns->allow_weak);
}

int lfs_parse_change_args(const char *cmd, int argc, char **argv, struct lfs_change_args *a,
                          void (*help)(void))
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    LFS_NEW_SECRET_LONG_OPTIONS,
	    {"slot", required_argument, NULL, 's'},
	    {"label", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'L') {
			if (!lfs_label_valid(optarg, strlen(optarg)))
				return lfs_cli_usage_error(cmd,
				                           "bad --label: 1 to %d bytes of UTF-8 "
				                           "without control characters",
				                           LFS_LABEL_MAX);
			a->label = optarg;
			continue;
		}
		int handled = lfs_secret_option(cmd, c, optarg, &a->src);
		if (handled == 0)
			handled = lfs_new_secret_option(cmd, c, optarg, &a->ns);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 's':
			if (lfs_parse_slot(cmd, optarg, &a->slot) < 0)
				return LFS_EXIT_USAGE;
			break;
		case 'h':
			help();
			return -1;
		default:
			return lfs_cli_usage_error(cmd, "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error(cmd, "expected exactly one VAULT argument");
	return 0;
}
