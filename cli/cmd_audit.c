/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs audit verify | show: check the vault's audit log for tampering,
 * and print it for people (one line per entry) or scripts (JSON lines). */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/timespec.h"
#include "../audit/audit_journal.h"
#include "../audit/audit_keyring.h"
#include "../audit/audit_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

static void audit_help(void)
{
	printf("Usage: lethefs audit verify [SECRET OPTIONS] [--no-key]\n"
	       "                            [--journal | --journal-dir DIR] [--json] VAULT\n"
	       "       lethefs audit show [--json] [--since T] [--until T] [--event NAME]...\n"
	       "                          VAULT\n"
	       "\n"
	       "  verify   check the audit log for tampering (hash chain, MACs, head file,\n"
	       "           and with --journal the copies in the system log)\n"
	       "  show     print the entries, for people or as JSON lines\n"
	       "\n"
	       "Run 'lethefs audit SUBCOMMAND --help' for its options. What is recorded and\n"
	       "what verify can and cannot detect: docs/AUDIT.md.\n");
}

static void verify_help(void)
{
	printf("Usage: lethefs audit verify [SECRET OPTIONS] [--no-key]\n"
	       "                            [--journal | --journal-dir DIR] [--json] VAULT\n"
	       "\n"
	       "Check every entry of VAULT's audit log: the hash chain from the first entry,\n"
	       "each entry's MAC under the audit key (derived from the master key, so the\n"
	       "vault's secret is asked for), and the head file that records the last entry.\n"
	       "Prints 'OK: ...' or the first problem: an edited, deleted, inserted or\n"
	       "reordered entry, or a truncated tail.\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP
	       "  --no-key            check only the chain and the structure, without a\n"
	       "                      secret; anyone able to write the log can forge those,\n"
	       "                      so this is a consistency check, not proof\n"
	       "  --journal           also compare the log with the copies of its entries in\n"
	       "                      this host's systemd journal: a log rolled back together\n"
	       "                      with its head verifies on its own, but not against them\n"
	       "  --journal-dir DIR   the same with the journal files in DIR (such as a log\n"
	       "                      server keeps)\n"
	       "  --json              print one JSON object on one line instead\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 error, 2 usage, 3 wrong secret, 4 no vault, 5 corrupt\n"
	       "vault files, 10 the audit log failed verification.\n");
}

static void show_help(void)
{
	printf("Usage: lethefs audit show [--json] [--since T] [--until T] [--event NAME]...\n"
	       "                          VAULT\n"
	       "\n"
	       "Print VAULT's audit log, oldest entry first, without checking it (run\n"
	       "'lethefs audit verify' for that). No secret is needed.\n"
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

/* ---- verify --------------------------------------------------------------- */

static void print_report_json(const struct lfs_audit_report *rep)
{
	char msg[2 * sizeof(rep->message)];
	lfs_audit_json_quote(msg, sizeof(msg), rep->message);
	printf("{\"ok\":%s,\"problem\":\"%s\",\"line\":%llu,\"message\":%s,\"entries\":%llu,"
	       "\"last_seq\":%llu,\"keyed\":%llu,\"unsealed\":%llu,\"macs_checked\":%s,"
	       "\"head_seq\":%llu,\"head_keyed\":%s,\"anchor_seq\":%llu,\"journal_checked\":%s,"
	       "\"journal_entries\":%llu,\"journal_last_seq\":%llu,\"journal_missing\":%llu}\n",
	       rep->problem == LFS_AUDIT_INTACT ? "true" : "false",
	       lfs_audit_problem_name(rep->problem), (unsigned long long)rep->line, msg,
	       (unsigned long long)rep->entries, (unsigned long long)rep->last_seq,
	       (unsigned long long)rep->keyed, (unsigned long long)rep->unsealed,
	       rep->macs_checked ? "true" : "false", (unsigned long long)rep->head_seq,
	       rep->head_keyed ? "true" : "false", (unsigned long long)rep->anchor_seq,
	       rep->journal_checked ? "true" : "false", (unsigned long long)rep->journal_entries,
	       (unsigned long long)rep->journal_last_seq, (unsigned long long)rep->journal_missing);
}

static void print_report(const struct lfs_audit_report *rep)
{
	if (!rep->macs_checked)
		printf("WARNING: --no-key: MACs were NOT checked, only the chain and structure.\n"
		       "WARNING: anyone who can write the log can forge a consistent chain.\n");
	if (rep->problem != LFS_AUDIT_INTACT) {
		printf("FAILED: %s\n", rep->message);
		return;
	}
	printf("OK: %llu entries, last seq %llu, %llu keyed; %llu unkeyed entries after the "
	       "last keyed one (not yet sealed)\n",
	       (unsigned long long)rep->entries, (unsigned long long)rep->last_seq,
	       (unsigned long long)rep->keyed, (unsigned long long)rep->unsealed);
	if (rep->head_behind)
		printf("note: the head file names seq %llu, not the last entry: an append was "
		       "interrupted before updating it (it is rewritten by the next one)\n",
		       (unsigned long long)rep->head_seq);
	if (rep->macs_checked && rep->head_present && !rep->head_keyed)
		printf("note: no keyed entry yet: the head file is not authenticated\n");
	if (rep->journal_checked && rep->journal_entries == 0)
		printf("note: the system journal holds no copy of this vault's entries: a rollback "
		       "cannot be ruled out\n");
	else if (rep->journal_checked)
		printf("journal: %llu copies up to seq %llu agree with the log; %llu entries of the "
		       "log have no copy there\n",
		       (unsigned long long)rep->journal_entries,
		       (unsigned long long)rep->journal_last_seq,
		       (unsigned long long)rep->journal_missing);
}

static int audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		LFS_SECRET_LONG_OPTIONS,
		{"no-key", no_argument, NULL, 'n'},
		{"journal", no_argument, NULL, 'J'},
		{"journal-dir", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	bool no_key = false, json = false, journal = false;
	const char *journal_dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = lfs_secret_option("audit", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'n':
			no_key = true;
			break;
		case 'j':
			json = true;
			break;
		case 'J':
			journal = true;
			break;
		case 'D':
			journal_dir = optarg;
			break;
		case 'h':
			verify_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("audit", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("audit", "expected exactly one VAULT argument");
	if (journal && journal_dir)
		return lfs_cli_usage_error("audit", "--journal and --journal-dir exclude each other");
	if (no_key && (src.passfile || src.passfd >= 0 || src.extpass))
		return lfs_cli_usage_error("audit", "--no-key takes no secret option");
	const char *path = argv[optind];
	struct lfs_vault v;
	uint8_t key[32];
	if (no_key) {
		char err[512];
		enum lfs_vault_error e = lfs_vault_open(path, &v, err, sizeof(err));
		if (e != LFS_VAULT_OK)
			return lfs_exit_for_vault_error(e, err);
	} else {
		struct lfs_keyring kr;
		int r = lfs_open_and_unlock(path, &src, &v, &kr);
		if (r != 0)
			return r;
		/* The key the log is written under: kept across rekeys by the
		 * keyring, else derived from the master key. */
		r = lfs_audit_key_from(&kr, key);
		lfs_keyring_destroy(&kr);
		if (r < 0) {
			lfs_vault_close(&v);
			lfs_cli_error("cannot get the audit key: %s", strerror(-r));
			return LFS_EXIT_ERROR;
		}
	}
	struct lfs_audit_report rep;
	int r = lfs_audit_verify(v.dirfd, &v.cfg, no_key ? NULL : key, &rep);
	sodium_memzero(key, sizeof(key));
	if (r < 0) {
		lfs_vault_close(&v);
		lfs_cli_error("cannot read the audit log of %s: %s", path, strerror(-r));
		return LFS_EXIT_ERROR;
	}
	if ((journal || journal_dir) && rep.problem == LFS_AUDIT_INTACT) {
		r = lfs_audit_check_journal(v.dirfd, &v.cfg, journal_dir, &rep);
		if (r < 0) {
			lfs_vault_close(&v);
			lfs_cli_error("cannot compare with the %s: %s",
				      journal_dir ? "journal files" : "system journal", strerror(-r));
			return LFS_EXIT_ERROR;
		}
	}
	lfs_vault_close(&v);
	if (json)
		print_report_json(&rep);
	else
		print_report(&rep);
	return rep.problem == LFS_AUDIT_INTACT ? LFS_EXIT_OK : LFS_EXIT_AUDIT_TAMPERED;
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
static void print_entry(const char *line, const struct lfs_audit_entry *e)
{
	printf("%.*s #%llu ", (int)e->time.len, line + e->time.off, (unsigned long long)e->seq);
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

static int show_lines(int fd, bool json, const struct show_filter *filter)
{
	struct lfs_audit_reader rd;
	const char *line;
	size_t len;
	enum lfs_audit_line_status st;
	unsigned long bad = 0;
	int r = lfs_audit_reader_init(&rd, fd);
	while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &st)) == 1) {
		struct lfs_audit_entry e;
		const char *why = "partial line";
		r = 0;
		if (st != LFS_AUDIT_LINE_COMPLETE ||
		    lfs_audit_parse_line(line, len, &e, &why) < 0) {
			if (!bad++)
				lfs_cli_error("line %llu is not a valid entry (%s); skipped. Run "
					      "'lethefs audit verify'",
					      (unsigned long long)rd.lineno,
					      st == LFS_AUDIT_LINE_OVERLONG ? "too long" : why);
			continue;
		}
		if (!wanted(filter, line, &e))
			continue;
		if (json)
			printf("%.*s\n", (int)len, line);
		else
			print_entry(line, &e);
	}
	lfs_audit_reader_free(&rd);
	if (bad > 1)
		lfs_cli_error("%lu invalid lines skipped in all", bad);
	return r;
}

static int audit_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"event", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
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
					       c == 's' ? &filter.since_ms : &filter.until_ms) < 0 ||
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
				return lfs_cli_usage_error("audit", "bad --event '%s' (an event name "
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
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	close(dirfd);
	if (r == -ENOENT) {
		lfs_cli_error("no audit log yet (%s): nothing recorded", name);
		return LFS_EXIT_OK;
	}
	if (r == 0) {
		r = show_lines(fd, json, &filter);
		close(fd);
	}
	if (r < 0) {
		lfs_cli_error("cannot read the audit log of %s: %s", argv[optind], strerror(-r));
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}

int lfs_cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return audit_show(argc - 1, argv + 1);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		audit_help();
		return LFS_EXIT_OK;
	}
	return lfs_cli_usage_error("audit", "expected 'verify' or 'show'");
}
