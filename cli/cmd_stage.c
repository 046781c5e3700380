/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs stage create|list|shred|extend: staging directories through the
 * mount's own interface (mkdir and the user.lethefs.* attributes), so the
 * daemon checks every rule and audits with this process as the caller. */
#define _GNU_SOURCE
#include "cli.h"
#include "ctl_client.h"
#include "../common/duration.h"
#include "../staging/stage_store.h"

#include <errno.h>
#include <getopt.h>
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
	       "       lethefs stage list [--json] MOUNTPOINT\n"
	       "       lethefs stage shred PATH\n"
	       "       lethefs stage extend --ttl DURATION PATH\n"
	       "\n"
	       "A staging directory has its own key and an expiry: when it expires (or is\n"
	       "shredded) its key is destroyed first, so nothing below it can be decrypted\n"
	       "again, then it disappears from the mount and its ciphertext is removed.\n"
	       "This happens even while the volume is locked or unmounted (see\n"
	       "'lethefs shred-expired'). PATH lies inside a mounted, unlocked volume.\n"
	       "\n"
	       "  create   make PATH (or take an existing empty directory) a staging\n"
	       "           directory expiring DURATION from now (72h, 7d, 1h30m);\n"
	       "           --quota SIZE (e.g. 50G) limits the plaintext bytes written\n"
	       "           below it (EDQUOT beyond)\n"
	       "  list     every staging directory of the mount's vault: id, expiry,\n"
	       "           quota, bytes used (read from the vault's index: no key)\n"
	       "  shred    shred PATH now (waits until it is gone, at most 10 s)\n"
	       "  extend   set the expiry to DURATION from now; shortening is always\n"
	       "           allowed, pushing it later only with staging_allow_extend = yes\n"
	       "\n"
	       "Renames and hard links across a staging directory's boundary fail with\n"
	       "EXDEV (mv then copies, re-encrypting). The same operations without this\n"
	       "command: setfattr -n user.lethefs.ttl -v 72h DIR (create or extend; 0\n"
	       "shreds), getfattr -n user.lethefs.expires DIR.\n"
	       "\n"
	       "Exit codes: 0 done, 1 error, 2 usage, 17 extending refused by the vault's\n"
	       "configuration.\n");
}

static int set_attr(const char *path, const char *name, const char *value)
{
	return setxattr(path, name, value, strlen(value), 0) < 0 ? -errno : 0;
}

static int report(const char *what, const char *path, int err)
{
	if (err == -EPERM) {
		lfs_cli_error("%s %s: refused by the vault's configuration (staging_allow_extend "
		              "or staging_max_ttl)",
		              what, path);
		return LFS_EXIT_REFUSED;
	}
	if (err == -ENODATA || err == -EOPNOTSUPP)
		lfs_cli_error("%s %s: not a staging directory in a lethefs mount", what, path);
	else if (err == -ENOTEMPTY)
		lfs_cli_error("%s %s: the directory is not empty", what, path);
	else if (err == -EXDEV)
		lfs_cli_error("%s %s: already inside a staging directory", what, path);
	else
		lfs_cli_error("%s %s: %s", what, path, strerror(-err));
	return LFS_EXIT_ERROR;
}

static void show(const char *path)
{
	char id[16] = "", exp[40] = "";
	ssize_t a = getxattr(path, "user.lethefs.id", id, sizeof(id) - 1);
	ssize_t b = getxattr(path, "user.lethefs.expires", exp, sizeof(exp) - 1);
	if (a > 0 && b > 0) {
		id[a] = exp[b] = '\0';
		printf("%s: staging %s, expires %s\n", path, id, exp);
	}
}

static int parse_ttl(const char *cmd, const char *v, char *out, size_t len)
{
	uint64_t s;
	if (lfs_parse_duration(v, &s) < 0)
		return lfs_cli_usage_error(cmd, "--ttl '%s' is not a duration like 72h or 7d", v);
	snprintf(out, len, "%llu", (unsigned long long)s);
	return 0;
}

static int stage_create(int argc, char **argv)
{
	static const struct option opts[] = {{"ttl", required_argument, NULL, 't'},
	                                     {"quota", required_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	char ttl[32] = "", quota[32] = "";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t q;
		if (c == 't' && parse_ttl("stage create", optarg, ttl, sizeof(ttl)))
			return LFS_EXIT_USAGE;
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
	if (!ttl[0] || !strcmp(ttl, "0") || argc - optind != 1)
		return lfs_cli_usage_error("stage create",
		                           "expected --ttl DURATION (not 0) and PATH");
	const char *path = argv[optind];
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return report("stage create", path, -errno);
	int r = set_attr(path, "user.lethefs.ttl", ttl);
	if (r == 0 && quota[0])
		r = set_attr(path, "user.lethefs.quota", quota);
	if (r < 0)
		return report("stage create", path, r);
	show(path);
	return LFS_EXIT_OK;
}

static int stage_extend(int argc, char **argv)
{
	static const struct option opts[] = {{"ttl", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	char ttl[32] = "";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 't' || parse_ttl("stage extend", optarg, ttl, sizeof(ttl)))
			return LFS_EXIT_USAGE;
	}
	if (!ttl[0] || argc - optind != 1)
		return lfs_cli_usage_error("stage extend", "expected --ttl DURATION and PATH");
	const char *path = argv[optind];
	char id[16];
	if (getxattr(path, "user.lethefs.id", id, sizeof(id)) < 0)
		return report("stage extend", path, -errno);
	int r = set_attr(path, "user.lethefs.ttl", ttl);
	if (r < 0)
		return report("stage extend", path, r);
	show(path);
	return LFS_EXIT_OK;
}

static int stage_shred(int argc, char **argv)
{
	if (argc != 2)
		return lfs_cli_usage_error("stage shred", "expected PATH");
	const char *path = argv[1];
	char id[16];
	if (getxattr(path, "user.lethefs.id", id, sizeof(id)) < 0)
		return report("stage shred", path, -errno);
	int r = set_attr(path, "user.lethefs.ttl", "0");
	if (r < 0)
		return report("stage shred", path, r);
	struct stat st;
	for (int i = 0; i < 100; i++) {
		if (stat(path, &st) < 0 && errno == ENOENT)
			return LFS_EXIT_OK;
		usleep(100000);
	}
	lfs_cli_error("stage shred %s: key destroyed, but the directory is still visible", path);
	return LFS_EXIT_ERROR;
}

/* The vault behind a mountpoint: the mount's source in mountinfo. */
static int vault_of(const char *mnt, char *vault, size_t len)
{
	char rmnt[PATH_MAX];
	if (!realpath(mnt, rmnt))
		return -errno;
	return lfs_vault_of_mount(rmnt, vault, len);
}

static void iso(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int stage_list(int argc, char **argv)
{
	bool json = argc == 3 && !strcmp(argv[1], "--json");
	if (argc != 2 + json)
		return lfs_cli_usage_error("stage list", "expected [--json] MOUNTPOINT");
	char vault[PATH_MAX];
	if (vault_of(argv[argc - 1], vault, sizeof(vault)) < 0) {
		lfs_cli_error("%s is not a mounted lethefs volume", argv[argc - 1]);
		return LFS_EXIT_NOT_MOUNTED;
	}
	struct lfs_vault v;
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open(vault, &v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	struct lfs_stage_index ix = {0};
	int sfd = lfs_stage_dir_open(v.dirfd, false);
	int r = sfd == -ENOENT ? 0 : sfd < 0 ? sfd : lfs_stage_index_load(sfd, &ix);
	if (sfd >= 0)
		close(sfd);
	lfs_vault_close(&v);
	if (r < 0) {
		lfs_cli_error("cannot read the staging index of %s: %s", vault, strerror(-r));
		return LFS_EXIT_CORRUPT;
	}
	if (json)
		printf("[");
	else if (ix.n)
		printf("%-8s  %-20s  %-20s  %14s  %14s\n", "ID", "CREATED", "EXPIRES", "QUOTA",
		       "USED");
	for (size_t i = 0; i < ix.n; i++) {
		const struct lfs_stage_entry *e = &ix.e[i];
		char id[9], c[32], x[32];
		lfs_stage_id_hex(e->id, id);
		iso(e->created, c, sizeof(c));
		iso(e->expires, x, sizeof(x));
		if (json)
			printf("%s{\"id\":\"%s\",\"created\":\"%s\",\"expires\":\"%s\","
			       "\"quota\":%llu,\"used\":%llu}",
			       i ? "," : "", id, c, x, (unsigned long long)e->quota,
			       (unsigned long long)e->used);
		else
			printf("%-8s  %-20s  %-20s  %14llu  %14llu\n", id, c, x,
			       (unsigned long long)e->quota, (unsigned long long)e->used);
	}
	if (json)
		printf("]\n");
	lfs_stage_index_free(&ix);
	return LFS_EXIT_OK;
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
		return stage_list(argc - 1, argv + 1);
	if (!strcmp(sub, "shred"))
		return stage_shred(argc - 1, argv + 1);
	if (!strcmp(sub, "extend"))
		return stage_extend(argc - 1, argv + 1);
	return lfs_cli_usage_error("stage", "unknown subcommand '%s'", sub);
}
