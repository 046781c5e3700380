/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs init: create a vault. */
#include "cli.h"
#include "passquality.h"
#include "../fs/dirmeta.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void init_help(void)
{
	printf("Usage: lethefs init [OPTIONS] VAULT\n"
	       "\n"
	       "Create a new encrypted vault in VAULT, which must be a new or empty directory.\n"
	       "A random master key is generated and wrapped in keyslot 0 under the passphrase\n"
	       "(Argon2id). The passphrase is asked twice on the terminal unless one of the\n"
	       "--pass* options gives it.\n"
	       "\n"
	       "Options:\n"
	       "  --passfile FILE     read the passphrase from FILE (one trailing newline is\n"
	       "                      dropped)\n"
	       "  --passfd N          read the passphrase from file descriptor N\n"
	       "  --extpass CMD       run CMD with /bin/sh and use its standard output\n"
	       "                      (an extpass slot)\n"
	       "  --keyfile FILE      FILE's bytes, all of them, are the secret (a keyfile\n"
	       "                      slot; Argon2id defaults to 1 pass over 64M)\n"
	       "  --cipher NAME       content cipher: xchacha20poly1305 (default) or aes256gcm\n"
	       "                      (needs AES-NI; faster on such CPUs)\n"
	       "  --format N          vault format: 2 (default: modes, owners and node types\n"
	       "                      authenticated) or 1 (as lethefs 0.x wrote it; for tests\n"
	       "                      and for readers that only know format 1)\n"
	       "  --kdf-ops N         Argon2id passes (default %llu)\n"
	       "  --kdf-mem SIZE      Argon2id memory, e.g. 256M (default 256M); at most 16\n"
	       "                      passes, 1G and 4G x passes; a passphrase slot needs at\n"
	       "                      least 2 passes over 64M\n"
	       "  --allow-weak-kdf    let --kdf-* go below that floor, down to 1 pass over 8M:\n"
	       "                      for tests only (a stolen vault is then cheap to guess)\n"
	       "  --root-mode MODE    octal mode of the mount root (default 0700: only its\n"
	       "                      owner may enter, even with mount -o allow_other)\n"
	       "  --root-owner U:G    owner and group of the mount root, names or numbers\n"
	       "                      (default: the user running init), e.g. postgres:postgres\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 created, 1 error, 2 usage, 8 VAULT is not empty or already a\n"
	       "vault.\n",
	       (unsigned long long)LFS_KDF_DEFAULT_OPS);
}

/* What --root-mode and --root-owner asked for, for make_root. */
static struct lfs_root_access init_root;

static int make_root(int dirfd, struct lfs_keyring *kr)
{
	struct lfs_irec rec;
	int r = lfs_root_access_record(&init_root, &rec);
	return r < 0 ? r : lfs_dirmeta_create_root_as(dirfd, kr, &rec);
}

int lfs_cmd_init(int argc, char **argv)
{
	/* The secret options but --recovery-key: a new vault has none. */
	static const struct option opts[] = {
	    {"passfile", required_argument, NULL, LFS_OPT_PASSFILE},
	    {"passfd", required_argument, NULL, LFS_OPT_PASSFD},
	    {"extpass", required_argument, NULL, LFS_OPT_EXTPASS},
	    {"keyfile", required_argument, NULL, LFS_OPT_KEYFILE},
	    {"cipher", required_argument, NULL, 'c'},
	    {"format", required_argument, NULL, 'f'},
	    {"kdf-ops", required_argument, NULL, 'o'},
	    {"kdf-mem", required_argument, NULL, 'm'},
	    {"allow-weak-kdf", no_argument, NULL, 'W'},
	    {"root-mode", required_argument, NULL, 'M'},
	    {"root-owner", required_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	struct lfs_kdf_params kdf = {0, 0};
	bool ops_given = false, mem_given = false, allow_weak = false;
	enum lfs_cipher_id cipher = LFS_CIPHER_XCHACHA20POLY1305;
	int format = LFS_FORMAT_DEFAULT;
	struct lfs_root_access ra = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = lfs_secret_option("init", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'c':
			if (lfs_cipher_from_name(optarg, &cipher) < 0)
				return lfs_cli_usage_error("init", "unknown cipher '%s'", optarg);
			break;
		case 'f':
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
				return lfs_cli_usage_error(
				    "init", "--format must be 1 or 2, not '%s'", optarg);
			format = optarg[0] - '0';
			break;
		case 'o':
			if (lfs_parse_size(optarg, &kdf.opslimit) < 0)
				return lfs_cli_usage_error("init", "bad --kdf-ops '%s'", optarg);
			ops_given = true;
			break;
		case 'm':
			if (lfs_parse_size(optarg, &kdf.memlimit) < 0)
				return lfs_cli_usage_error("init", "bad --kdf-mem '%s'", optarg);
			mem_given = true;
			break;
		case 'W':
			allow_weak = true;
			break;
		case 'M':
			if (lfs_parse_root_mode(optarg, &ra.mode) < 0)
				return lfs_cli_usage_error(
				    "init", "bad --root-mode '%s' (octal, e.g. 0755)", optarg);
			ra.set_mode = true;
			break;
		case 'O':
			if (lfs_parse_root_owner(optarg, &ra.uid, &ra.gid) < 0)
				return lfs_cli_usage_error(
				    "init", "bad --root-owner '%s' (USER:GROUP, names or numbers)",
				    optarg);
			ra.set_owner = true;
			break;
		case 'h':
			init_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("init", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("init", "expected exactly one VAULT argument");
	enum lfs_slot_type type = src.keyfile   ? LFS_SLOT_KEYFILE
	                          : src.extpass ? LFS_SLOT_EXTPASS
	                                        : LFS_SLOT_PASSPHRASE;
	/* Key files are high-entropy: cheaper Argon2id defaults suffice. */
	if (!ops_given)
		kdf.opslimit = type == LFS_SLOT_KEYFILE ? LFS_KDF_KEYFILE_OPS : LFS_KDF_DEFAULT_OPS;
	if (!mem_given)
		kdf.memlimit = type == LFS_SLOT_KEYFILE ? LFS_KDF_KEYFILE_MEM : LFS_KDF_DEFAULT_MEM;
	if (!lfs_cipher_available(cipher)) {
		lfs_cli_error("cipher %s is not available on this CPU", lfs_cipher_name(cipher));
		return LFS_EXIT_ERROR;
	}
	if (lfs_kdf_params_check("init", type, &kdf, allow_weak) != 0)
		return LFS_EXIT_USAGE;
	const char *path = argv[optind];
	char err[512];
	struct lfs_secret s;
	if (lfs_secret_read(&src, true, "New passphrase: ", &s, err, sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		return LFS_EXIT_ERROR;
	}
	if (type == LFS_SLOT_PASSPHRASE)
		lfs_warn_weak_passphrase(s.data, s.len);
	umask(077);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "Deriving the key (Argon2id, %llu MiB)...\n",
		        (unsigned long long)(kdf.memlimit >> 20));
	/* Format 2: the root's mode and owner are its record's, sealed when
	 * the root is made; format 1 sets the backing d/'s afterwards. */
	init_root = ra;
	int r = lfs_vault_create(path, format, cipher, type, s.data, s.len, &kdf, make_root, err,
	                         sizeof(err));
	lfs_secret_free(&s);
	if (r < 0) {
		lfs_cli_error("%s", err);
		return r == -EEXIST ? LFS_EXIT_EXISTS : LFS_EXIT_ERROR;
	}
	if (format == 1 && lfs_set_root_access(path, &ra, err, sizeof(err)) < 0) {
		lfs_cli_error("%s (the vault was created)", err);
		return LFS_EXIT_ERROR;
	}
	printf("Created vault %s (format %d, cipher %s). Mount it with: lethefs mount %s "
	       "MOUNTPOINT\n",
	       path, format, lfs_cipher_name(cipher), path);
	return LFS_EXIT_OK;
}
