/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs: one binary, subcommands dispatched from a table that also
 * drives the usage text. */
#include "cli.h"
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

/* Defined by the Makefile from debian/changelog, the one version source. */
#ifndef LETHEFS_VERSION
#define LETHEFS_VERSION "unknown (not built by the Makefile)"
#endif

static const struct lfs_command commands[] = {
    {"init", lfs_cmd_init, "create a new encrypted vault in an empty directory"},
    {"mount", lfs_cmd_mount, "mount a vault (daemonizes; -f stays in the foreground)"},
    {"info", lfs_cmd_info, "show a vault's format, cipher and keyslots (no secret needed)"},
    {"config", lfs_cmd_config, "check a vault's lethefs.conf as a mount would (no secret)"},
    {"fsck", lfs_cmd_fsck, "decrypt and verify every name and block of a vault"},
    {"unlock", lfs_cmd_unlock, "unlock a mounted volume (mounted with --locked or locked)"},
    {"lock", lfs_cmd_lock, "lock a mounted volume: wipe its keys, keep it mounted"},
    {"status", lfs_cmd_status, "show whether a mount is locked, open files, idle time"},
    {"umount", lfs_cmd_umount, "unmount, returning once the daemon is done with the vault"},
    {"rotate", lfs_cmd_rotate, "rotate the data keys of a mounted volume (re-encrypts)"},
    {"keyslot", lfs_cmd_keyslot, "list, add or remove the secrets that unlock a vault"},
    {"passwd", lfs_cmd_passwd, "change the secret of the keyslot a secret opens"},
    {"rekey", lfs_cmd_rekey, "give an unmounted vault a new master key (slots re-wrapped)"},
    {"upgrade", lfs_cmd_upgrade, "convert an unmounted vault of format 1 to format 2"},
    {"key", lfs_cmd_key, "export the master key as a recovery key (paper backup)"},
    {"audit", lfs_cmd_audit, "verify (for tampering) or show the vault's audit log"},
    {"stage", lfs_cmd_stage, "create, list, show, extend or shred self-destroying staging dirs"},
    {"shred-expired", lfs_cmd_shred_expired,
     "shred expired staging dirs of an unmounted vault (cron, timer)"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: lethefs COMMAND [OPTIONS] ARGS...\n"
	             "\n"
	             "lethefs is an encrypted FUSE filesystem: files written through the mount\n"
	             "reach the backing directory (the vault) only as ciphertext, names included.\n"
	             "\n"
	             "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "Run 'lethefs COMMAND --help' for a command's options.\n"
	        "\n"
	        "Exit codes (stable):\n"
	        "  0  success\n"
	        "  1  runtime error (I/O, memory, failed external program)\n"
	        "  2  usage error\n"
	        "  3  wrong passphrase: no keyslot opens with the secret given\n"
	        "  4  the vault does not exist or is not a lethefs vault\n"
	        "  5  a vault file is corrupt or inconsistent\n"
	        "  6  fsck found corrupt names, blocks or metadata\n"
	        "  7  the mount failed (mountpoint, FUSE or kernel error)\n"
	        "  8  init: the target directory is not empty or already holds a vault\n"
	        " 10  audit verify: the audit log was tampered with (or cut short)\n"
	        " 11  not a mounted lethefs volume, or its daemon does not answer\n"
	        " 12  permission denied on the control socket (not root or admin group)\n"
	        " 13  lock refused: files are open (see lock --force); rotate: one is running;\n"
	        "     umount: the mount is busy\n"
	        " 14  rotate: the volume is locked\n"
	        " 15  rotate --wait: the rotation stopped on errors\n"
	        " 16  rekey: the vault is mounted (unmount it first)\n"
	        " 17  stage: refused by the vault's staging configuration (max TTL, per-user\n"
	        "     limit, extending, shortening)\n"
	        " 18  umount: the daemon did not answer or did not exit in time\n"
	        " 19  rotate --wait: the rotation paused, the backing store is full (free\n"
	        "     space, then lethefs rotate MOUNTPOINT resumes it)\n"
	        " 20  the control socket is not trustworthy: nothing was sent to it\n"
	        " 21  the control socket has no free slot (too many connections): retry\n");
}

/* Says what is wrong in one line and where the help is (not the whole
 * help: a script's log should show the mistake). */
static int usage_error(const char *fmt, const char *arg)
{
	fputs("lethefs: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'lethefs --help'.\n", stderr);
	return LFS_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%sno command given", "");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return LFS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("lethefs %s\n", LETHEFS_VERSION);
		return LFS_EXIT_OK;
	}
	/* The shell completions ask "lethefs __complete CMD [SUB]" for the
	 * options CMD parses (cli/options.c); not for people or scripts. */
	if (!strcmp(argv[1], "__complete")) {
		lfs_cli_completing = true;
		argc--;
		argv++;
		if (argc < 2)
			return LFS_EXIT_OK;
	}
	/* Nonces, file ids and salts come from libsodium's internal ChaCha20
	 * generator (seeded from getrandom, per thread, re-seeded after fork)
	 * instead of one getrandom(2) system call per nonce: every block write
	 * draws a nonce, so this is on the write hot path. */
	randombytes_set_implementation(&randombytes_internal_implementation);
	if (sodium_init() < 0) {
		lfs_cli_error("libsodium failed to initialise");
		return LFS_EXIT_ERROR;
	}
	lfs_harden_process();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			lfs_cli_command = commands[i].name;
			int r = commands[i].run(argc - 1, argv + 1);
			/* A command that parses no options prints nothing then. */
			return lfs_cli_completing ? LFS_EXIT_OK : r;
		}
	if (lfs_cli_completing)
		return LFS_EXIT_OK;
	/* mount.fuse3 (mount -t fuse.lethefs, fstab) calls
	 * "lethefs VAULT MOUNTPOINT -o OPTIONS". */
	if (argv[1][0] == '/' && argc >= 3) {
		lfs_cli_command = "mount";
		return lfs_cmd_mount(argc, argv);
	}
	if (argv[1][0] == '-')
		return usage_error("unknown option '%s'", argv[1]);
	return usage_error("unknown command '%s'", argv[1]);
}
