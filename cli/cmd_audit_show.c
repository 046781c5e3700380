/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs audit show: the vault's audit log for people (one line per
 * entry) or scripts (JSON lines), a shared vault's host logs merged in by
 * time (docs/AUDIT.md sections 4 and 8). */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/fileutil.h"
#include "../common/timespec.h"
#include "../audit/audit.h"
#include "../audit/audit_host.h"
#include "../audit/audit_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void show_help(void)
{
	printf("Usage: lethefs audit show [--json] [--since T] [--until T] [--event NAME]...\n"
	       "                          VAULT\n"
	       "\n"
	       "Print VAULT's audit log, oldest entry first, without checking it (run\n"
	       "'lethefs audit verify' for that). No secret is needed. A shared vault's\n"
	       "host logs are merged in by time; their entries show the host before the\n"
	       "seq ('hostA#12') or, with --json, a leading \"host\" member.\n"
	       "\n"
	       "Options:\n"
	       "  --json              print the log's own JSON lines (one object per entry)\n"
	       "  --since T, --until T  keep entries from T on and up to T, with T as\n"
	       "                      journalctl takes it: 'yesterday', 'today', 'now',\n"
	       "                      '-1h', '2 days ago', '2026-12-01', '2026-12-01 10:00',\n"
	       "                      '2026-12-01 10:00:05', '2026-12-01T10:00:05Z' (local\n"
	       "                      time unless a zone such as 'UTC', 'Z' or '+01:00' is\n"
	       "                      given), '@UNIXTIME', or a duration ago ('2h')\n"
	       "  --event NAME        keep entries of that event (repeatable: any of them)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 error, 2 usage, 4 no vault, 5 corrupt vault files.\n");
}

/* ---- show ----------------------------------------------------------------- */

static void print_span(const char *line, struct lfs_audit_span sp)
{
	fwrite(line + sp.off, 1, sp.len, stdout);
}

static void print_login_id(const char *label, int64_t v)
{
	if (v == LFS_AUDIT_UNSET)
		printf("%sunset", label);
	else
		printf("%s%lld", label, (long long)v);
}

/* Which entries show prints. */
struct show_filter {
	int64_t since_ms, until_ms; /* -1: no bound */
	const char *events[16];
	size_t nevents;
};

static bool wanted(const struct show_filter *f, const char *line, const struct lfs_audit_entry *e)
{
	if ((f->since_ms >= 0 && e->time_ms < f->since_ms) ||
	    (f->until_ms >= 0 && e->time_ms > f->until_ms))
		return false;
	if (!f->nevents)
		return true;
	for (size_t i = 0; i < f->nevents; i++)
		if (strlen(f->events[i]) == e->event.len &&
		    !memcmp(line + e->event.off, f->events[i], e->event.len))
			return true;
	return false;
}

/* One entry for people. Strings are printed in their escaped form, which
 * the parser guarantees is printable ASCII: nothing in the log can drive
 * the terminal. */
static void print_entry(const char *line, const struct lfs_audit_entry *e, const char *host)
{
	printf("%.*s %s#%llu ", (int)e->time.len, line + e->time.off, host ? host : "",
	       (unsigned long long)e->seq);
	print_span(line, e->event);
	putchar(' ');
	print_span(line, e->outcome);
	if (e->has_caller) {
		printf(" uid=%lu pid=%lu exe=", (unsigned long)e->uid, (unsigned long)e->pid);
		if (e->exe.len)
			print_span(line, e->exe);
		else
			putchar('?');
		if (e->has_login) {
			print_login_id(" loginuid=", e->loginuid);
			print_login_id(" sessionid=", e->sessionid);
		}
	}
	for (unsigned i = 0; i < e->ndetails; i++) {
		putchar(' ');
		print_span(line, e->detail[i].key);
		putchar('=');
		if (e->detail[i].is_str) {
			putchar('"');
			print_span(line, e->detail[i].str);
			putchar('"');
		} else {
			printf("%lld", e->detail[i].num);
		}
	}
	printf("%s\n", e->has_mac ? "" : " [unkeyed]");
}

/* One log being read: the main log (host NULL) or a host's. */
struct source {
	const char *host;
	int fd;
	struct lfs_audit_reader rd;
	bool has; /* line and e hold its next entry */
	const char *line;
	size_t len;
	struct lfs_audit_entry e;
	unsigned long bad;
};

/* The source's next valid entry; invalid lines are skipped with a
 * message naming the log. */
static int advance(struct source *s)
{
	enum lfs_audit_line_status st;
	int r;
	s->has = false;
	while ((r = lfs_audit_reader_next(&s->rd, &s->line, &s->len, &st)) == 1) {
		const char *why = "partial line";
		if (st == LFS_AUDIT_LINE_COMPLETE &&
		    lfs_audit_parse_line(s->line, s->len, &s->e, &why) == 0) {
			s->has = true;
			return 0;
		}
		if (!s->bad++)
			lfs_cli_error("%s%sline %llu is not a valid entry (%s); skipped. Run "
			              "'lethefs audit verify'",
			              s->host ? s->host : "", s->host ? "'s log: " : "",
			              (unsigned long long)s->rd.lineno,
			              st == LFS_AUDIT_LINE_OVERLONG ? "too long" : why);
	}
	return r;
}

/* Prints the sources' entries merged by time: the earliest next entry
 * first, ties in source order (the main log, then hosts by name), each
 * log's own order kept (a stable merge). */
static int show_merged(struct source *src, size_t n, bool json, const struct show_filter *filter)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = lfs_audit_reader_init(&src[i].rd, src[i].fd);
		if (r == 0)
			r = advance(&src[i]);
	}
	while (r == 0) {
		struct source *best = NULL;
		for (size_t i = 0; i < n; i++)
			if (src[i].has && (!best || src[i].e.time_ms < best->e.time_ms))
				best = &src[i];
		if (!best)
			break;
		if (wanted(filter, best->line, &best->e)) {
			if (json && best->host)
				printf("{\"host\":\"%s\",%.*s\n", best->host, (int)best->len - 1,
				       best->line + 1);
			else if (json)
				printf("%.*s\n", (int)best->len, best->line);
			else
				print_entry(best->line, &best->e, best->host);
		}
		r = advance(best);
	}
	for (size_t i = 0; i < n; i++) {
		if (src[i].bad > 1)
			lfs_cli_error("%s%s%lu invalid lines skipped in all",
			              src[i].host ? src[i].host : "", src[i].host ? "'s log: " : "",
			              src[i].bad);
	}
	return r;
}

/* Opens a log for reading: never through a symlink, only a regular file
 * (a planted FIFO or device node is never opened). -errno; -EINVAL: not a
 * file. */
static int open_log(int dirfd, const char *name)
{
	return lfs_open_regular(dirfd, name);
}

/* The host logs in <log>.d: host names only; anything else is skipped,
 * said on stderr (verify fails on it). Appends to src (names in names). */
static int open_hosts(int dirfd, const char *logname, struct source *src, size_t *n,
                      char (*names)[LFS_HOST_NAME_MAX + 1])
{
	int hfd = lfs_audit_hosts_dir_open(dirfd, logname, false);
	if (hfd == -ENOENT)
		return 0;
	if (hfd < 0)
		return hfd;
	DIR *d = fdopendir(hfd);
	if (!d) {
		int e = -errno;
		close(hfd);
		return e;
	}
	struct dirent *de;
	size_t first = *n;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t len = strlen(name), hl = strlen(LFS_AUDIT_HEAD_SUFFIX);
		if (name[0] == '.' || (len > hl && !strcmp(name + len - hl, LFS_AUDIT_HEAD_SUFFIX)))
			continue;
		int fd = lfs_audit_host_name_ok(name) ? open_log(hfd, name) : -EINVAL;
		if (fd < 0 && fd != -EINVAL && fd != -ELOOP && fd != -ENOENT) {
			/* A host's log that cannot be read (out of descriptors,
			 * say: names planted by the thousand) is an error, never
			 * a log left out of a successful show. */
			closedir(d);
			return fd;
		}
		if (fd < 0) {
			char q[96];
			lfs_audit_json_quote(q, sizeof(q), name);
			lfs_cli_error("%s%s/%s is not a host log (%s); skipped. Run 'lethefs audit "
			              "verify'",
			              logname, LFS_AUDIT_HOSTS_SUFFIX, q,
			              fd == -EINVAL ? "not a regular file named after a host"
			                            : strerror(-fd));
			continue;
		}
		if (*n - first >= LFS_AUDIT_MAX_HOSTS) {
			close(fd);
			closedir(d);
			return -E2BIG;
		}
		snprintf(names[*n - first], LFS_HOST_NAME_MAX + 1, "%s", name);
		src[*n].fd = fd;
		(*n)++;
	}
	closedir(d);
	return 0;
}

static int by_host(const void *a, const void *b)
{
	const struct source *x = a, *y = b;
	return strcmp(x->host, y->host);
}

int lfs_cmd_audit_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},        {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'}, {"event", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	bool json = false;
	struct show_filter filter = {.since_ms = -1, .until_ms = -1};
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
		case 'u':
			if (lfs_parse_timespec(optarg, now_ms,
			                       c == 's' ? &filter.since_ms : &filter.until_ms) <
			        0 ||
			    (c == 's' ? filter.since_ms : filter.until_ms) < 0)
				return lfs_cli_usage_error(
				    "audit",
				    "bad --%s '%s' (expected a time as journalctl takes it: "
				    "'yesterday', '-1h', '2026-12-01', '2026-12-01 10:00', "
				    "'2026-12-01T10:00:05Z', ...)",
				    c == 's' ? "since" : "until", optarg);
			break;
		case 'e':
			if (!lfs_audit_name_valid(optarg, false))
				return lfs_cli_usage_error("audit",
				                           "bad --event '%s' (an event name "
				                           "such as unlock or stage-shred)",
				                           optarg);
			if (filter.nevents == sizeof(filter.events) / sizeof(filter.events[0]))
				return lfs_cli_usage_error("audit", "too many --event options");
			filter.events[filter.nevents++] = optarg;
			break;
		case 'h':
			show_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("audit", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("audit", "expected exactly one VAULT argument");
	struct lfs_vault v;
	char err[512], name[256];
	int dirfd;
	enum lfs_vault_error e = lfs_vault_open(argv[optind], &v, err, sizeof(err));
	if (e != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(e, err);
	int r = lfs_audit_locate(v.dirfd, &v.cfg, &dirfd, name);
	lfs_vault_close(&v);
	if (r < 0) {
		lfs_cli_error("cannot find the audit log of %s: %s", argv[optind], strerror(-r));
		return LFS_EXIT_ERROR;
	}
	/* The main log first, then the host logs (sorted by name). */
	struct source *src = calloc(LFS_AUDIT_MAX_HOSTS + 1, sizeof(*src));
	char(*names)[LFS_HOST_NAME_MAX + 1] = calloc(LFS_AUDIT_MAX_HOSTS, sizeof(*names));
	size_t n = 0;
	r = src && names ? 0 : -ENOMEM;
	int fd = r == 0 ? open_log(dirfd, name) : -1;
	if (fd >= 0)
		src[n++].fd = fd;
	else if (r == 0 && fd != -ENOENT)
		r = fd;
	size_t hosts_at = n;
	if (r == 0)
		r = open_hosts(dirfd, name, src, &n, names);
	close(dirfd);
	for (size_t i = hosts_at; i < n; i++)
		src[i].host = names[i - hosts_at];
	if (n > hosts_at)
		qsort(src + hosts_at, n - hosts_at, sizeof(*src), by_host);
	if (r == 0 && n == 0)
		lfs_cli_error("no audit log yet (%s): nothing recorded", name);
	else if (r == 0)
		r = show_merged(src, n, json, &filter);
	for (size_t i = 0; i < n; i++) {
		lfs_audit_reader_free(&src[i].rd);
		close(src[i].fd);
	}
	free(src);
	free(names);
	if (r < 0) {
		lfs_cli_error("cannot read the audit log of %s: %s", argv[optind], strerror(-r));
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}
