/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs mount: the options, the paths and the secret (unless --locked);
 * the daemon (daemon/mount.c) mounts and serves until unmounted. */
#define _GNU_SOURCE
#include "cli.h"
#include "../daemon/mount.h"
#include "../keymgmt/config_paths.h"
#include "mountpoint.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>

/* Covers the unlock's deepest chain plus library frames: checked by
 * scripts/stack-depth.py (make stack). */
#define UNLOCK_STACK_WIPE (64 * 1024)

static void mount_help(void)
{
	printf("Usage: lethefs mount [OPTIONS] VAULT MOUNTPOINT\n"
	       "\n"
	       "Unlock VAULT and mount its plaintext view on MOUNTPOINT, or with --locked\n"
	       "mount it without any key (at boot) for a later 'lethefs unlock'. The command\n"
	       "returns\n"
	       "once the mount is live (a script may use it on the next line), or exits\n"
	       "non-zero with the reason. The daemon then runs in the background and logs to\n"
	       "syslog; unmount with 'lethefs umount MOUNTPOINT', which returns once the\n"
	       "daemon has written its last audit entry and exited (plain 'umount' and\n"
	       "'fusermount3 -u' return before that).\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP
	       "  --locked            mount without unlocking: every operation but stat of\n"
	       "                      the root fails with EACCES until 'lethefs unlock'\n"
	       "  -f, --foreground    stay in the foreground and log to stderr\n"
	       "  -d, --debug         log every FUSE request (implies -f)\n"
	       "  -o OPTIONS          comma-separated mount options:\n"
	       "        ro                 read-only mount\n"
	       "        locked             same as --locked\n"
	       "        passfile=F, keyfile=F  same as --passfile F, --keyfile F (fstab)\n"
	       "        nofail, _netdev, noauto, x-*, ...  for mount(8) and systemd; ignored\n"
	       "        allow_other        let other users in (implies default_permissions,\n"
	       "                           so the kernel checks file modes; the mount root\n"
	       "                           must let them enter: see init --root-mode)\n"
	       "        default_permissions, noatime, ... pass to FUSE/kernel\n"
	       "        nosuid,nodev       always, unless allow_suid / allow_dev (or suid / dev\n"
	       "                           with 'lethefs mount': mount.fuse3 adds those to\n"
	       "                           every mount); device nodes in the vault are\n"
	       "                           refused (EACCES) without allow_dev\n"
	       "        nonempty           mount over a non-empty directory or a mount\n"
	       "                           (refused otherwise; a dead FUSE mount always is)\n"
	       "        noacl              refuse POSIX ACLs (on by default, as on ext4:\n"
	       "                           setfacl/getfacl, default ACLs, enforced by the\n"
	       "                           kernel, stored encrypted)\n"
	       "        no_writeback_cache  disable the kernel's writeback cache (on by\n"
	       "                           default; it merges small writes)\n"
	       "        shared             several hosts mount this vault at once (a\n"
	       "                           cluster filesystem: docs/SHARED.md); every host\n"
	       "                           must use it. Turns off the writeback cache and\n"
	       "                           the page cache across opens, sets the timeouts\n"
	       "                           to 0 unless given, and locks across hosts.\n"
	       "                           Without it a second host is refused.\n"
	       "        iattr              new regular files keep their mode and owner also\n"
	       "                           in a small backing xattr that lookups read\n"
	       "                           instead of the header: faster du/find after a\n"
	       "                           cache drop (exclusive mounts on a backing store\n"
	       "                           with user xattrs; backups of the backing store\n"
	       "                           must keep xattrs; trade-offs: docs/THREAT-MODEL.md)\n"
	       "        noiattr            the default: mode and owner in the header only\n"
	       "        powersafe          bytes an fsync made durable survive a power\n"
	       "                           failure during a later rewrite of their block\n"
	       "                           (an append to the file, a database rewriting a\n"
	       "                           page): such rewrites are synced through the\n"
	       "                           journal first, two more disk flushes each;\n"
	       "                           commits of SQLite and PostgreSQL get several\n"
	       "                           times slower (docs/FORMAT.md 12.11)\n"
	       "        nopowersafe        the default: such a block may read as an I/O\n"
	       "                           error after a power failure during its rewrite\n"
	       "        max_threads=N      worker threads (default 10)\n"
	       "        attr_timeout=S, entry_timeout=S  kernel cache timeouts in seconds\n"
	       "                           (default 1)\n"
	       "        read_ahead_kb=N    kernel readahead for this mount (default 4096;\n"
	       "                           0 keeps the kernel's 128): large sequential\n"
	       "                           reads become parallel 1 MiB requests\n"
	       "        random_ra_kb=N     a small read whose encrypted blocks are not in\n"
	       "                           the backing page cache reads the aligned N KiB\n"
	       "                           around them (a power of two from 8; default 0,\n"
	       "                           off), for files of at most an eighth of the\n"
	       "                           memory: random 4 KiB reads then cost fewer disk\n"
	       "                           requests (64: a quarter of them)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "mount(8) and fstab: 'mount -t fuse.lethefs -o locked VAULT MOUNTPOINT' and\n"
	       "an fstab line 'VAULT MOUNTPOINT fuse.lethefs locked,nofail 0 0' run\n"
	       "mount.fuse3, which calls 'lethefs VAULT MOUNTPOINT -o OPTIONS': the same as\n"
	       "'lethefs mount -o OPTIONS VAULT MOUNTPOINT'. lethefs must then be in\n"
	       "mount's PATH (/usr/local/bin, /usr/bin, /sbin, ...).\n"
	       "\n"
	       "Every mount has a control socket (default /run/lethefs/UUID.sock; see\n"
	       "control_socket and admin_group in lethefs.conf) through which 'lethefs\n"
	       "unlock', 'lock' and 'status' reach the daemon. A vault can be mounted once\n"
	       "at a time (a lease in the vault names the holder: host, pid, since), unless\n"
	       "every mount uses -o shared.\n"
	       "\n"
	       "Exit codes: 0 mounted, 1 error, 2 usage, 3 wrong passphrase, 4 no vault,\n"
	       "5 corrupt vault, 7 mount failed (also: vault already mounted).\n");
}

struct mount_opts {
	struct lfs_secret_source src;
	bool via_helper;                            /* called by mount.fuse3 (mount(8), fstab) */
	bool allow_suid;                            /* explicitly asked for (allow_dev is in m) */
	bool nonempty;                              /* -o nonempty: mount over anything */
	bool timeouts_given;                        /* attr_timeout= or entry_timeout= */
	bool writeback_given;                       /* writeback_cache */
	struct lfs_mount_opts m;                    /* for the daemon */
	bool allow_other;                           /* for the mount root check */
	char passfile[PATH_MAX], keyfile[PATH_MAX]; /* from -o passfile=, keyfile= */
};

static int add_fuse_opt(struct mount_opts *mo, const char *opt)
{
	size_t len = strlen(mo->m.fuse_opts);
	int n = snprintf(mo->m.fuse_opts + len, sizeof(mo->m.fuse_opts) - len, "%s%s",
	                 len ? "," : "", opt);
	return n < 0 || (size_t)n >= sizeof(mo->m.fuse_opts) - len ? -1 : 0;
}

/* Options that mean something to mount(8), fstab or systemd only; the
 * mount helper passes them along and the kernel would refuse them. */
static bool userspace_only(const char *o)
{
	static const char *const words[] = {"nofail", "_netdev", "auto",  "noauto", "user",
	                                    "users",  "nouser",  "owner", "group",  "defaults"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(o, words[i]))
			return true;
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8);
}

static int parse_o(struct mount_opts *mo, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	int r = 0;
	for (char *o = strtok_r(copy, ",", &save); o && r == 0; o = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strcmp(o, "locked")) {
			mo->m.locked = true;
		} else if (userspace_only(o)) {
			continue;
		} else if (!strncmp(o, "passfile=", 9) || !strncmp(o, "keyfile=", 8)) {
			/* fstab has no other place for the secret's source. */
			bool key = o[0] == 'k';
			char *dst = key ? mo->keyfile : mo->passfile;
			snprintf(dst, PATH_MAX, "%s", strchr(o, '=') + 1);
			if (key)
				mo->src.keyfile = dst;
			else
				mo->src.passfile = dst;
		} else if (!strcmp(o, "dev") || !strcmp(o, "suid") || !strcmp(o, "allow_dev") ||
		           !strcmp(o, "allow_suid")) {
			/* mount.fuse3 adds "dev,suid" to every mount it makes, so
			 * from it only allow_dev/allow_suid count as asked for. */
			if (mo->via_helper && o[0] != 'a')
				continue;
			bool dev = strstr(o, "dev") != NULL;
			*(dev ? &mo->m.allow_dev : &mo->allow_suid) = true;
		} else if (!strcmp(o, "nodev") || !strcmp(o, "nosuid")) {
			*(o[2] == 'd' ? &mo->m.allow_dev : &mo->allow_suid) = false;
		} else if (!strcmp(o, "nonempty")) {
			mo->nonempty = true;
		} else if (!strcmp(o, "acl") || !strcmp(o, "noacl")) {
			mo->m.acl = o[0] == 'a';
		} else if (!strcmp(o, "no_writeback_cache")) {
			mo->m.writeback = false;
		} else if (!strcmp(o, "writeback_cache")) {
			mo->m.writeback = true;
			mo->writeback_given = true;
		} else if (!strcmp(o, "shared")) {
			mo->m.shared = true;
		} else if (!strcmp(o, "shared_sync")) {
			mo->m.shared = mo->m.shared_sync = true;
		} else if (!strcmp(o, "iattr") || !strcmp(o, "noiattr")) {
			mo->m.iattr = o[0] == 'i';
		} else if (!strcmp(o, "powersafe") || !strcmp(o, "nopowersafe")) {
			mo->m.powersafe = o[0] == 'p';
		} else if (!strncmp(o, "max_threads=", 12)) {
			long v = strtol(o + 12, &end, 10);
			r = *end || v < 1 || v > 256 ? lfs_cli_usage_error("mount", "bad %s", o)
			                             : 0;
			mo->m.max_threads = (unsigned)v;
		} else if (!strncmp(o, "read_ahead_kb=", 14)) {
			long v = strtol(o + 14, &end, 10);
			r = *end || v < 0 || v > 65536 ? lfs_cli_usage_error("mount", "bad %s", o)
			                               : 0;
			mo->m.read_ahead_kb = (unsigned)v;
		} else if (!strncmp(o, "random_ra_kb=", 13)) {
			long v = strtol(o + 13, &end, 10);
			r = *end || v < 0 || v > 4096 || (v & (v - 1)) != 0 || (v > 0 && v < 8)
			        ? lfs_cli_usage_error("mount", "bad %s", o)
			        : 0;
			mo->m.random_ra_kb = (unsigned)v;
		} else if (!strncmp(o, "attr_timeout=", 13) || !strncmp(o, "entry_timeout=", 14)) {
			char *eq = strchr(o, '=');
			double v = strtod(eq + 1, &end);
			r = *end || v < 0 ? lfs_cli_usage_error("mount", "bad %s", o) : 0;
			*(o[0] == 'a' ? &mo->m.attr_timeout : &mo->m.entry_timeout) = v;
			mo->timeouts_given = true;
		} else {
			mo->allow_other |= !strcmp(o, "allow_other");
			if (!strcmp(o, "ro"))
				mo->m.read_only = true;
			else if (!strcmp(o, "rw"))
				mo->m.read_only = false;
			if (!strcmp(o, "allow_other"))
				r = add_fuse_opt(mo, "default_permissions");
			if (r == 0)
				r = add_fuse_opt(mo, o);
			if (r < 0)
				r = lfs_cli_usage_error("mount", "mount options too long");
		}
	}
	free(copy);
	return r;
}

static int parse_mount_args(int argc, char **argv, struct mount_opts *mo)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"foreground", no_argument, NULL, 'f'},
	    {"locked", no_argument, NULL, 'L'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hfdo:", opts, NULL)) != -1) {
		int handled = lfs_secret_option("mount", c, optarg, &mo->src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'f':
			mo->m.foreground = true;
			break;
		case 'd':
			mo->m.debug = mo->m.foreground = true;
			break;
		case 'L':
			mo->m.locked = true;
			break;
		case 'o':
			if ((r = parse_o(mo, optarg)) != 0)
				return r;
			break;
		case 'h':
			mount_help();
			return -1;
		default:
			return lfs_cli_usage_error("mount", "unknown option");
		}
	}
	if (argc - optind != 2)
		return lfs_cli_usage_error("mount", "expected VAULT and MOUNTPOINT");
	if (mo->m.shared) {
		/* Other hosts change the files: nothing the kernel would keep
		 * believing is cached, unless asked for (docs/SHARED.md). */
		if (mo->writeback_given)
			return lfs_cli_usage_error("mount", "shared and writeback_cache exclude "
			                                    "each other");
		mo->m.writeback = false;
		if (!mo->timeouts_given)
			mo->m.attr_timeout = mo->m.entry_timeout = 0;
	}
	/* Device nodes and setuid files of the backing store come from
	 * whoever can write it: off unless asked for, on every mount path. */
	if (add_fuse_opt(mo, mo->m.allow_dev ? "dev" : "nodev") < 0 ||
	    add_fuse_opt(mo, mo->allow_suid ? "suid" : "nosuid") < 0)
		return lfs_cli_usage_error("mount", "mount options too long");
	return 0;
}

static int check_paths(const char *vault, const char *mnt, char *rvault, char *rmnt)
{
	struct stat st;
	if (!realpath(vault, rvault)) {
		lfs_cli_error("cannot open vault %s: %s", vault, strerror(errno));
		return LFS_EXIT_NO_VAULT;
	}
	if (!realpath(mnt, rmnt) || stat(rmnt, &st) < 0) {
		lfs_cli_error("mountpoint %s: %s", mnt, strerror(errno));
		return LFS_EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		lfs_cli_error("mountpoint %s is not a directory", mnt);
		return LFS_EXIT_MOUNT;
	}
	size_t vl = strlen(rvault);
	if (!strncmp(rmnt, rvault, vl) && (rmnt[vl] == '/' || rmnt[vl] == '\0')) {
		lfs_cli_error("mountpoint %s lies inside the vault %s", mnt, vault);
		return LFS_EXIT_MOUNT;
	}
	return 0;
}

static int mount_with(int argc, char **argv, struct mount_opts *mo)
{
	/* "lethefs mount ..." arrives as argv[0] "mount"; mount.fuse3 runs
	 * "lethefs VAULT MOUNTPOINT -o OPTIONS" (cli/main.c). */
	mo->via_helper = strcmp(argv[0], "mount") != 0;
	int r = parse_mount_args(argc, argv, mo);
	if (r != 0)
		return r < 0 ? LFS_EXIT_OK : r;
	/* A typo in fstab is reported as one, before a secret is asked (at
	 * boot there is nobody to ask: "no terminal" would hide the typo). */
	char bad[256];
	if (lfs_daemon_check_fuse_opts(&mo->m, bad, sizeof(bad)) < 0)
		return lfs_cli_usage_error("mount",
		                           "unknown mount option '%s' (see lethefs mount "
		                           "--help)",
		                           bad);
	if ((r = lfs_mountpoint_check(argv[optind + 1], mo->nonempty)) != 0)
		return r;
	char vault[PATH_MAX], mnt[PATH_MAX];
	if ((r = check_paths(argv[optind], argv[optind + 1], vault, mnt)) != 0)
		return r;

	struct lfs_vault v;
	struct lfs_keyring kr;
	if (mo->m.locked) {
		char err[512];
		enum lfs_vault_error ve = lfs_vault_open(vault, &v, err, sizeof(err));
		if (ve != LFS_VAULT_OK) {
			r = lfs_exit_for_vault_error(ve, err);
			if (r == LFS_EXIT_CORRUPT)
				lfs_expire_after_failed_mount(vault);
			return r;
		}
		lfs_keyring_init(&kr, v.cfg.uuid, v.cfg.cipher);
	} else if ((r = lfs_open_and_unlock(vault, &mo->src, &v, &kr)) != 0) {
		/* A typo in lethefs.conf stops the mount, not the retention. */
		if (r == LFS_EXIT_CORRUPT)
			lfs_expire_after_failed_mount(vault);
		return r;
	}
	/* The unauthenticated config names places where root writes or
	 * unlinks: refuse any outside the rules before using them. */
	char why[768];
	if (lfs_config_check_paths(v.dirfd, &v.cfg, why, sizeof(why)) < 0) {
		lfs_cli_error("%s", why);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return LFS_EXIT_MOUNT;
	}
	/* This thread becomes a FUSE worker: no residue of the unlock. */
	sodium_stackzero(UNLOCK_STACK_WIPE);
	/* Other users meet the mount root's mode first: say so when nobody
	 * but its owner may enter, whatever allow_other promises. */
	if (mo->allow_other)
		lfs_warn_root_access(v.dirfd, &kr, mnt);
	char err[512];
	switch (lfs_daemon_mount(&mo->m, vault, mnt, &v, &kr, err, sizeof(err))) {
	case LFS_MOUNT_OK:
		return LFS_EXIT_OK;
	case LFS_MOUNT_CORRUPT:
		r = LFS_EXIT_CORRUPT;
		break;
	case LFS_MOUNT_FAILED:
		r = LFS_EXIT_MOUNT;
		break;
	default:
		r = LFS_EXIT_ERROR;
		break;
	}
	if (err[0])
		lfs_cli_error("%s", err);
	return r;
}

int lfs_cmd_mount(int argc, char **argv)
{
	/* The options (12 KiB of paths) on the heap: no frame over 16 KiB. */
	struct mount_opts *mo = calloc(1, sizeof(*mo));
	if (!mo) {
		lfs_cli_error("out of memory");
		return LFS_EXIT_ERROR;
	}
	mo->src.passfd = -1;
	mo->m.writeback = true;
	mo->m.acl = true;
	/* Inode attributes (FORMAT.md 14.9) are opt-in (-o iattr): they trade
	 * some of the threat model's strictness for lookups without a header
	 * read (THREAT-MODEL.md), and they still miss issue 22's du target. */
	mo->m.iattr = false;
	mo->m.max_threads = 10;
	mo->m.attr_timeout = 1.0;
	mo->m.read_ahead_kb = 4096;
	mo->m.random_ra_kb = 0; /* off: docs/PERFORMANCE.md, "Random 4 KiB reads" */
	mo->m.entry_timeout = 1.0;
	int r = mount_with(argc, argv, mo);
	free(mo);
	return r;
}
