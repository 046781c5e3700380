/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs stage create|extend|shred|show: staging directories through the
 * mount's own interface (mkdir and the user.lethefs.* attributes), so the
 * daemon checks every rule and audits with this process as the caller;
 * what only an administrator may do (extending, and shortening when
 * owner_may_shorten = no) goes through the control socket. stage list is
 * cmd_stage_list.c. */
#define _GNU_SOURCE
#include "cli.h"
#include "cmd_stage.h"
#include "ctl_client.h"
#include "../common/duration.h"
#include "../staging/stage_store.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static void stage_help(void)
{
	printf("Usage: lethefs stage create --ttl DURATION [--quota SIZE] PATH\n"
	       "       lethefs stage list [--json] [--bytes] [--utc] PATH|VAULT\n"
	       "       lethefs stage show [--json] [--bytes] [--utc] PATH\n"
	       "       lethefs stage shred [--dry-run] PATH\n"
	       "       lethefs stage extend --ttl DURATION PATH\n"
	       "\n"
	       "A staging directory has its own key and an expiry: when it expires (or is\n"
	       "shredded) its key is destroyed first, so nothing below it can be decrypted\n"
	       "again, then it disappears from the mount and its ciphertext is removed.\n"
	       "This happens even while the volume is locked or unmounted (see\n"
	       "'lethefs shred-expired'). PATH lies inside a mounted, unlocked volume;\n"
	       "anywhere else every subcommand fails (exit 11) and changes nothing.\n"
	       "\n"
	       "  create   make PATH (or take an existing empty directory) a staging\n"
	       "           directory expiring DURATION from now (72h, 7d, 1h30m), at most\n"
	       "           the vault's staging_max_ttl; --quota SIZE (e.g. 50G) limits the\n"
	       "           plaintext bytes written below it (EDQUOT beyond)\n"
	       "  list     every staging directory of the vault of PATH (any path in a\n"
	       "           mount), or of VAULT unmounted (no key needed): id, state, times,\n"
	       "           quota, bytes used. --json for scripts; --bytes exact sizes,\n"
	       "           --utc ISO 8601 UTC times (default: human sizes, local times)\n"
	       "  show     one staging directory: id, expiry, time left, quota, used\n"
	       "  shred    shred PATH now (waits until it is gone, at most 10 s); with\n"
	       "           --dry-run, only check that PATH is a staging directory of a\n"
	       "           mount and say what would be shredded\n"
	       "  extend   set the expiry to DURATION from now: shortening is open to the\n"
	       "           directory's writers (unless owner_may_shorten = no), pushing it\n"
	       "           later goes through the control socket (root or admin_group)\n"
	       "           and needs staging_allow_extend = yes\n"
	       "\n"
	       "Renames and hard links across a staging directory's boundary fail with\n"
	       "EXDEV (mv then copies, re-encrypting). The same operations without this\n"
	       "command: setfattr -n user.lethefs.ttl -v 72h DIR (create; shorten; 0\n"
	       "shreds), getfattr -d DIR.\n"
	       "\n"
	       "Exit codes: 0 done, 1 error, 2 usage, 5 staging files unreadable, 11 not\n"
	       "inside a lethefs mount, 12 the control socket refused the caller, 14\n"
	       "locked, 17 refused by the vault's configuration (staging_max_ttl,\n"
	       "staging_max_per_user, staging_allow_extend, owner_may_shorten).\n");
}

int lfs_stage_not_in_mount(const char *cmd, const char *path)
{
	lfs_cli_error("%s %s: not inside a lethefs mount: nothing was changed", cmd, path);
	return LFS_EXIT_NOT_MOUNTED;
}

/* The lethefs mount the existing path lies in, else exit 11. */
static int require_mount(const char *cmd, const char *path, char *mnt, size_t mntlen)
{
	char vault[PATH_MAX];
	return lfs_lethefs_mount_of(path, mnt, mntlen, vault, sizeof(vault)) < 0
	           ? lfs_stage_not_in_mount(cmd, path)
	           : 0;
}

static int set_attr(const char *path, const char *name, const char *value)
{
	return setxattr(path, name, value, strlen(value), 0) < 0 ? -errno : 0;
}

static int report(const char *what, const char *path, int err)
{
	if (err == -EPERM || err == -EDQUOT) {
		lfs_cli_error("%s %s: refused by the vault's configuration (%s)", what, path,
		              err == -EDQUOT ? "staging_max_per_user: too many live staging "
		                               "directories of this user"
		                             : "staging_max_ttl, owner_may_shorten or "
		                               "staging_allow_extend");
		return LFS_EXIT_REFUSED;
	}
	if (err == -ENODATA || err == -EOPNOTSUPP)
		lfs_cli_error("%s %s: not a staging directory", what, path);
	else if (err == -ENOTEMPTY)
		lfs_cli_error("%s %s: the directory is not empty", what, path);
	else if (err == -EXDEV)
		lfs_cli_error("%s %s: already inside a staging directory", what, path);
	else if (err == -ENOSPC)
		lfs_cli_error("%s %s: the vault has the maximum number of live staging "
		              "directories (256)",
		              what, path);
	else
		lfs_cli_error("%s %s: %s", what, path, strerror(-err));
	return LFS_EXIT_ERROR;
}

static void show_line(const char *path)
{
	char id[16] = "", exp[40] = "";
	ssize_t a = getxattr(path, "user.lethefs.id", id, sizeof(id) - 1);
	ssize_t b = getxattr(path, "user.lethefs.expires", exp, sizeof(exp) - 1);
	if (a > 0 && b > 0) {
		id[a] = exp[b] = '\0';
		printf("%s: staging %s, expires %s\n", path, id, exp);
	}
}

static int parse_ttl(const char *cmd, const char *v, uint64_t *s)
{
	if (lfs_parse_duration(v, s) < 0)
		return lfs_cli_usage_error(cmd, "--ttl '%s' is not a duration like 72h or 7d", v);
	return 0;
}

/* A numeric attribute of a staging directory (ttl left is a duration). */
static int get_attr(const char *path, const char *name, char *out, size_t len)
{
	ssize_t n = getxattr(path, name, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

static int stage_id_of(const char *path, uint32_t *id)
{
	char hex[16];
	int r = get_attr(path, "user.lethefs.id", hex, sizeof(hex));
	if (r == 0 && lfs_stage_id_parse(hex, strlen(hex), id) < 0)
		r = -EIO;
	return r;
}

/* The administrator's way (extend, or shorten/shred when writers may
 * not): a stage-ttl request over the control socket of path's mount. */
static int admin_ttl(const char *cmd, const char *path, uint32_t id, uint64_t ttl)
{
	char mnt[PATH_MAX], vault[PATH_MAX], resp[LFS_CTL_RESPONSE_MAX], err[64], msg[256];
	if (lfs_lethefs_mount_of(path, mnt, sizeof(mnt), vault, sizeof(vault)) < 0)
		return lfs_stage_not_in_mount(cmd, path);
	struct lfs_ctl_target t = {.mountpoint = mnt};
	struct lfs_ctl_request req = {.verb = LFS_CTL_STAGE_TTL, .stage_id = id, .seconds = ttl};
	int r = lfs_ctl_call(&t, &req, NULL, resp, sizeof(resp));
	if (r != 0) {
		if (r == LFS_EXIT_DENIED)
			lfs_cli_error("%s %s: only root and the vault's admin_group may extend a "
			              "staging directory%s",
			              cmd, path,
			              ttl ? "" : " or shred it here (owner_may_shorten = no)");
		return r;
	}
	if (lfs_json_get(resp, strlen(resp), "error", err, sizeof(err)) == 0) {
		if (lfs_json_get(resp, strlen(resp), "message", msg, sizeof(msg)) < 0)
			snprintf(msg, sizeof(msg), "%s", err);
		lfs_cli_error("%s %s: %s", cmd, path, msg);
		return !strcmp(err, "refused")  ? LFS_EXIT_REFUSED
		       : !strcmp(err, "locked") ? LFS_EXIT_LOCKED
		                                : LFS_EXIT_ERROR;
	}
	return 0;
}

static int stage_create(int argc, char **argv)
{
	static const struct option opts[] = {{"ttl", required_argument, NULL, 't'},
	                                     {"quota", required_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	char quota[32] = "";
	uint64_t ttl = 0;
	bool have_ttl = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t q;
		if (c == 't' && parse_ttl("stage create", optarg, &ttl))
			return LFS_EXIT_USAGE;
		have_ttl |= c == 't';
		if (c == 'q' && lfs_parse_size(optarg, &q) < 0)
			return lfs_cli_usage_error("stage create", "bad --quota '%s'", optarg);
		if (c == 'q')
			snprintf(quota, sizeof(quota), "%llu", (unsigned long long)q);
		if (c == 'h') {
			stage_help();
			return LFS_EXIT_OK;
		}
		if (c == '?')
			return LFS_EXIT_USAGE;
	}
	if (!have_ttl || ttl == 0 || argc - optind != 1)
		return lfs_cli_usage_error("stage create",
		                           "expected --ttl DURATION (not 0) and PATH");
	const char *path = argv[optind];
	/* Outside a lethefs mount a directory with a plain user.lethefs.ttl
	 * attribute would be made, which nothing would ever shred. */
	char parent[PATH_MAX], mnt[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	int r = require_mount("stage create", dirname(parent), mnt, sizeof(mnt));
	if (r)
		return r;
	bool made = mkdir(path, 0700) == 0;
	if (!made && errno != EEXIST)
		return report("stage create", path, -errno);
	char ttls[32], left[64];
	snprintf(ttls, sizeof(ttls), "%llu", (unsigned long long)ttl);
	uint64_t have = 0;
	uint32_t id;
	if (made && stage_id_of(path, &id) == 0 &&
	    get_attr(path, "user.lethefs.ttl", left, sizeof(left)) == 0 &&
	    lfs_parse_duration(left, &have) == 0 && ttl > have + 1) {
		/* Made a staging directory by staging_root with the default
		 * TTL; a longer one is an extension. */
		r = admin_ttl("stage create", path, id, ttl);
		if (r) {
			lfs_cli_error("stage create %s: it is a staging directory with the default "
			              "TTL of staging_root (%s left)",
			              path, left);
			return r;
		}
	} else {
		r = set_attr(path, "user.lethefs.ttl", ttls);
	}
	if (r == 0 && quota[0])
		r = set_attr(path, "user.lethefs.quota", quota);
	if (r < 0) {
		if (made && stage_id_of(path, &id) < 0)
			rmdir(path); /* nothing of a failed create stays */
		return report("stage create", path, r);
	}
	show_line(path);
	return LFS_EXIT_OK;
}

static int stage_extend(int argc, char **argv)
{
	static const struct option opts[] = {{"ttl", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	uint64_t ttl = 0;
	bool have_ttl = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 't' || parse_ttl("stage extend", optarg, &ttl))
			return LFS_EXIT_USAGE;
		have_ttl = true;
	}
	if (!have_ttl || argc - optind != 1)
		return lfs_cli_usage_error("stage extend", "expected --ttl DURATION and PATH");
	const char *path = argv[optind];
	char mnt[PATH_MAX], left[64], ttls[32];
	int r = require_mount("stage extend", path, mnt, sizeof(mnt));
	if (r)
		return r;
	uint32_t id;
	uint64_t have = 0;
	if ((r = stage_id_of(path, &id)) < 0 ||
	    (r = get_attr(path, "user.lethefs.ttl", left, sizeof(left))) < 0)
		return report("stage extend", path, r);
	lfs_parse_duration(left, &have);
	snprintf(ttls, sizeof(ttls), "%llu", (unsigned long long)ttl);
	/* Later than now: only an administrator, through the socket. */
	if (ttl > have)
		r = admin_ttl("stage extend", path, id, ttl);
	else if ((r = set_attr(path, "user.lethefs.ttl", ttls)) == -EPERM)
		r = admin_ttl("stage extend", path, id, ttl);
	if (r < 0)
		return report("stage extend", path, r);
	if (r > 0)
		return r;
	show_line(path);
	return LFS_EXIT_OK;
}

static int stage_shred(int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	bool dry_run = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			stage_help();
			return LFS_EXIT_OK;
		}
		if (c == '?')
			return LFS_EXIT_USAGE;
		dry_run |= c == 'n';
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("stage shred", "expected [--dry-run] PATH");
	const char *path = argv[optind];
	char mnt[PATH_MAX];
	int r = require_mount("stage shred", path, mnt, sizeof(mnt));
	if (r)
		return r;
	uint32_t id;
	if ((r = stage_id_of(path, &id)) < 0)
		return report("stage shred", path, r);
	if (dry_run) {
		/* The same checks as a shred up to the point of no return: a
		 * path in a mount that is a staging directory. Nothing is
		 * changed and nothing is audited. */
		char hex[9];
		lfs_stage_id_hex(id, hex);
		printf("would shred staging directory %s at %s: its key first, then its "
		       "ciphertext\n",
		       hex, path);
		return LFS_EXIT_OK;
	}
	r = set_attr(path, "user.lethefs.ttl", "0");
	if (r == -EPERM)
		r = admin_ttl("stage shred", path, id, 0);
	if (r < 0)
		return report("stage shred", path, r);
	if (r > 0)
		return r;
	struct stat st;
	for (int i = 0; i < 100; i++) {
		if (stat(path, &st) < 0 && errno == ENOENT)
			return LFS_EXIT_OK;
		usleep(100000);
	}
	lfs_cli_error("stage shred %s: key destroyed, but the directory is still visible", path);
	return LFS_EXIT_ERROR;
}

int lfs_cmd_stage(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		stage_help();
		return argc < 2 ? LFS_EXIT_USAGE : LFS_EXIT_OK;
	}
	const char *sub = argv[1];
	/* "stage SUB --help" anywhere on the line: one help covers all. */
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			stage_help();
			return LFS_EXIT_OK;
		}
	if (!strcmp(sub, "create"))
		return stage_create(argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return lfs_stage_list(argc - 1, argv + 1);
	if (!strcmp(sub, "show"))
		return lfs_stage_show(argc - 1, argv + 1);
	if (!strcmp(sub, "shred"))
		return stage_shred(argc - 1, argv + 1);
	if (!strcmp(sub, "extend"))
		return stage_extend(argc - 1, argv + 1);
	return lfs_cli_usage_error("stage", "unknown subcommand '%s'", sub);
}
