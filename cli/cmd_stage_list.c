/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs stage list|show: what staging directories a vault has, read
 * without any key (the daemon is only asked to store its current usage
 * counters first), and one directory's attributes through the mount. */
#define _GNU_SOURCE
#include "cli.h"
#include "cmd_stage.h"
#include "ctl_client.h"
#include "../common/duration.h"
#include "../staging/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

struct style {
	bool json, bytes, utc;
};

/* --json, --bytes, --utc and one PATH; returns optind of PATH or -1. */
static int parse_style(const char *cmd, int argc, char **argv, struct style *s)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"bytes", no_argument, NULL, 'b'},
	                                     {"utc", no_argument, NULL, 'u'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			s->json = true;
		else if (c == 'b')
			s->bytes = true;
		else if (c == 'u')
			s->utc = true;
		else
			return -1;
	}
	if (argc - optind != 1) {
		lfs_cli_usage_error(cmd, "expected [--json] [--bytes] [--utc] PATH");
		return -1;
	}
	return optind;
}

static void iso_utc(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Local time for people ("2026-12-02 09:00 CET"), ISO UTC with --utc. */
static void show_time(int64_t t, const struct style *s, char *out, size_t len)
{
	if (s->utc || s->json) {
		iso_utc(t, out, len);
		return;
	}
	struct tm tm;
	time_t tt = (time_t)t;
	localtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M %Z", &tm);
}

static void show_size(uint64_t v, bool none_if_zero, const struct style *s, char *out, size_t len)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	if (none_if_zero && v == 0 && !s->bytes) {
		snprintf(out, len, "-");
		return;
	}
	if (s->bytes || v < 1024) {
		snprintf(out, len, s->bytes ? "%llu" : "%llu B", (unsigned long long)v);
		return;
	}
	double d = (double)v;
	int u = 0;
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", d, unit[u]);
}

static bool in_list(const char *list, uint32_t id)
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (!strncmp(p, hex, 8) && (p[8] == ',' || p[8] == '\0'))
			return true;
	}
	return false;
}

static const char *state_of(const struct lfs_stage_entry *e, int64_t now, const char *damaged)
{
	if (in_list(damaged, e->id))
		return "damaged";
	if (e->why)
		return "no-record";
	return e->expires <= now ? "expired" : "live";
}

static void print_list(const struct lfs_stage_index *ix, int64_t now, const char *damaged,
                       const struct style *s)
{
	if (s->json)
		printf("[");
	else
		printf("%-8s  %-9s  %-20s  %-20s  %-12s  %10s  %10s\n", "ID", "STATE", "CREATED",
		       "EXPIRES", "LEFT", "QUOTA", "USED");
	for (size_t i = 0; i < ix->n; i++) {
		const struct lfs_stage_entry *e = &ix->e[i];
		char id[9], c[40], x[40], left[32], q[32], u[32], owner[16];
		lfs_stage_id_hex(e->id, id);
		show_time(e->created, s, c, sizeof(c));
		show_time(e->expires, s, x, sizeof(x));
		int64_t l = e->expires > now ? e->expires - now : 0;
		lfs_format_duration((uint64_t)l, left, sizeof(left));
		const char *state = state_of(e, now, damaged);
		if (s->json) {
			if (e->owner == LFS_STAGE_OWNER_UNKNOWN)
				snprintf(owner, sizeof(owner), "null");
			else
				snprintf(owner, sizeof(owner), "%u", e->owner);
			printf(
			    "%s{\"id\":\"%s\",\"state\":\"%s\",\"created\":\"%s\",\"expires\":\"%"
			    "s\","
			    "\"ttl_seconds\":%lld,\"quota\":%llu,\"used\":%llu,\"owner_uid\":%s}",
			    i ? "," : "", id, state, c, x, (long long)l,
			    (unsigned long long)e->quota, (unsigned long long)e->used, owner);
			continue;
		}
		show_size(e->quota, true, s, q, sizeof(q));
		show_size(e->used, false, s, u, sizeof(u));
		printf("%-8s  %-9s  %-20s  %-20s  %-12s  %10s  %10s\n", id, state, c, x, left, q,
		       u);
	}
	if (s->json)
		printf("]\n");
}

/* The daemon stores its current counters (USED is then current) and
 * names the keys it could not load; best effort, silently. */
static void ask_daemon(const char *mnt, char *damaged, size_t len)
{
	struct lfs_ctl_target t = {.mountpoint = mnt, .quiet = true};
	struct lfs_ctl_request req = {.verb = LFS_CTL_STAGE_SYNC};
	char resp[LFS_CTL_RESPONSE_MAX];
	damaged[0] = '\0';
	if (lfs_ctl_call(&t, &req, NULL, resp, sizeof(resp)) == 0 &&
	    lfs_json_get(resp, strlen(resp), "damaged", damaged, len) < 0)
		damaged[0] = '\0';
}

int lfs_stage_read_vault(const char *path, struct lfs_stage_index *ix, bool *index_damaged,
                         int64_t *now, int *vault_exit)
{
	struct lfs_vault vault, *v = &vault;
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open_for_staging(path, v, err, sizeof(err));
	*vault_exit = ve == LFS_VAULT_OK ? 0 : lfs_exit_for_vault_error(ve, err);
	if (ve != LFS_VAULT_OK)
		return -EINVAL;
	int sfd = lfs_stage_dir_open(v->dirfd, false);
	int r = sfd == -ENOENT ? 0 : sfd < 0 ? sfd : lfs_staging_view(sfd, ix, index_damaged);
	*now = (int64_t)time(NULL);
	if (sfd >= 0) {
		struct lfs_stage_clock clk;
		lfs_stage_clock_init(&clk, v->cfg.uuid, sfd);
		*now = lfs_stage_clock_now(&clk);
		lfs_stage_clock_destroy(&clk);
		close(sfd);
	}
	lfs_vault_close(v);
	return r;
}

int lfs_stage_list(int argc, char **argv)
{
	struct style s = {0};
	int at = parse_style("stage list", argc, argv, &s);
	if (at < 0)
		return LFS_EXIT_USAGE;
	const char *path = argv[at];
	char mnt[PATH_MAX], vault[PATH_MAX], damaged[512] = "";
	struct stat sb;
	if (lfs_lethefs_mount_of(path, mnt, sizeof(mnt), vault, sizeof(vault)) == 0) {
		ask_daemon(mnt, damaged, sizeof(damaged));
	} else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(vault, sizeof(vault), "%s", path); /* a vault, mounted or not */
		char conf[PATH_MAX + 32];
		snprintf(conf, sizeof(conf), "%s/" LFS_CONFIG_FILE_NAME, path);
		if (access(conf, F_OK) < 0 && errno == ENOENT) {
			lfs_cli_error("stage list %s: not inside a lethefs mount, and not a vault",
			              path);
			return LFS_EXIT_NOT_MOUNTED;
		}
	} else {
		return lfs_stage_not_in_mount("stage list", path);
	}
	struct lfs_stage_index ix = {0};
	bool index_damaged = false;
	int64_t now;
	int vault_exit;
	int r = lfs_stage_read_vault(vault, &ix, &index_damaged, &now, &vault_exit);
	if (vault_exit)
		return vault_exit;
	if (r < 0) {
		lfs_cli_error("cannot read the staging directories of %s: %s%s", vault,
		              strerror(-r),
		              r == -EACCES ? " (the vault is readable by root and its owner; "
		                             "'lethefs stage show PATH' works for any user of "
		                             "the mount)"
		                           : "");
		return r == -EACCES ? LFS_EXIT_ERROR : LFS_EXIT_CORRUPT;
	}
	if (index_damaged)
		fprintf(stderr,
		        "lethefs: the staging index of %s is damaged; listed from the key "
		        "files and retention records\n",
		        vault);
	print_list(&ix, now, damaged, &s);
	lfs_stage_index_free(&ix);
	return LFS_EXIT_OK;
}

static int attr(const char *path, const char *name, char *out, size_t len)
{
	ssize_t n = getxattr(path, name, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

int lfs_stage_show(int argc, char **argv)
{
	struct style s = {0};
	int at = parse_style("stage show", argc, argv, &s);
	if (at < 0)
		return LFS_EXIT_USAGE;
	const char *path = argv[at];
	char mnt[PATH_MAX], vault[PATH_MAX];
	if (lfs_lethefs_mount_of(path, mnt, sizeof(mnt), vault, sizeof(vault)) < 0)
		return lfs_stage_not_in_mount("stage show", path);
	char id[16], exp[40], left[64], quota[32], used[32];
	int r = attr(path, "user.lethefs.id", id, sizeof(id));
	if (r == 0)
		r = attr(path, "user.lethefs.expires", exp, sizeof(exp));
	if (r == 0)
		r = attr(path, "user.lethefs.ttl", left, sizeof(left));
	if (r == 0)
		r = attr(path, "user.lethefs.quota", quota, sizeof(quota));
	if (r == 0)
		r = attr(path, "user.lethefs.used", used, sizeof(used));
	if (r < 0) {
		lfs_cli_error("stage show %s: %s", path,
		              r == -ENODATA ? "not a staging directory" : strerror(-r));
		return LFS_EXIT_ERROR;
	}
	struct tm tm = {0};
	const char *end = strptime(exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	int64_t t = end && !*end ? (int64_t)timegm(&tm) : 0;
	uint64_t secs = 0, q = strtoull(quota, NULL, 10), u = strtoull(used, NULL, 10);
	lfs_parse_duration(left, &secs);
	char when[40], qs[32], us[32];
	show_time(t, &s, when, sizeof(when));
	if (s.json) {
		printf("{\"path\":");
		size_t n = 0, cap = 6 * strlen(path) + 8; /* every byte may need \u00XX */
		char *buf = malloc(cap);
		if (buf && lfs_json_put_string(buf, cap, &n, path) == 0)
			fwrite(buf, 1, n, stdout);
		else
			printf("null");
		free(buf);
		printf(",\"id\":\"%s\",\"expires\":\"%s\",\"ttl_seconds\":%llu,\"quota\":%llu,"
		       "\"used\":%llu}\n",
		       id, exp, (unsigned long long)secs, (unsigned long long)q,
		       (unsigned long long)u);
		return LFS_EXIT_OK;
	}
	show_size(q, true, &s, qs, sizeof(qs));
	show_size(u, false, &s, us, sizeof(us));
	printf("%s\n  id       %s\n  expires  %s\n  left     %s\n  quota    %s\n  used     %s\n",
	       path, id, when, left, qs, us);
	return LFS_EXIT_OK;
}
