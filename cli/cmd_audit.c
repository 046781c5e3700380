/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs audit verify | show: check the vault's audit log for tampering,
 * and print it for people (one line per entry) or scripts (JSON lines). */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/timespec.h"
#include "../audit/audit_journal.h"
#include "../audit/audit_keyring.h"
#include "../audit/audit_verify.h"
#include "../audit/audit_verify_hosts.h"

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
	       "reordered entry, or a truncated tail. A vault mounted with -o shared also\n"
	       "has one log per host (lethefs.audit.d/HOST): each is checked, one line per\n"
	       "host, and a missing, copied or planted host log fails too.\n"
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

/* ---- verify --------------------------------------------------------------- */

static void print_host_json(const struct lfs_audit_host_report *h, bool first)
{
	const struct lfs_audit_report *rep = &h->rep;
	char msg[2 * sizeof(rep->message)], name[2 * sizeof(h->name)];
	lfs_audit_json_quote(msg, sizeof(msg), rep->message);
	lfs_audit_json_quote(name, sizeof(name), h->name);
	printf("%s{\"host\":%s,\"ok\":%s,\"problem\":\"%s\",\"line\":%llu,\"message\":%s,"
	       "\"entries\":%llu,\"last_seq\":%llu,\"keyed\":%llu,\"unsealed\":%llu,"
	       "\"head_seq\":%llu,\"registered\":%s,\"journal_checked\":%s,"
	       "\"journal_entries\":%llu,\"journal_missing\":%llu}",
	       first ? "" : ",", h->planted ? "null" : name,
	       rep->problem == LFS_AUDIT_INTACT ? "true" : "false",
	       lfs_audit_problem_name(rep->problem), (unsigned long long)rep->line, msg,
	       (unsigned long long)rep->entries, (unsigned long long)rep->last_seq,
	       (unsigned long long)rep->keyed, (unsigned long long)rep->unsealed,
	       (unsigned long long)rep->head_seq, h->registered ? "true" : "false",
	       rep->journal_checked ? "true" : "false", (unsigned long long)rep->journal_entries,
	       (unsigned long long)rep->journal_missing);
}

/* The top level describes the main log; ok, problem, line and message
 * the first failure among all logs (a host's message names its file). */
static void print_report_json(const struct lfs_audit_report *main_rep,
                              const struct lfs_audit_hosts *hosts)
{
	const struct lfs_audit_report *first = main_rep;
	for (size_t i = 0; first->problem == LFS_AUDIT_INTACT && i < hosts->n; i++)
		if (hosts->v[i].rep.problem != LFS_AUDIT_INTACT)
			first = &hosts->v[i].rep;
	const struct lfs_audit_report *rep = main_rep;
	char msg[2 * sizeof(rep->message)];
	lfs_audit_json_quote(msg, sizeof(msg), first->message);
	printf("{\"ok\":%s,\"problem\":\"%s\",\"line\":%llu,\"message\":%s,\"entries\":%llu,"
	       "\"last_seq\":%llu,\"keyed\":%llu,\"unsealed\":%llu,\"macs_checked\":%s,"
	       "\"head_seq\":%llu,\"head_keyed\":%s,\"anchor_seq\":%llu,\"journal_checked\":%s,"
	       "\"journal_entries\":%llu,\"journal_last_seq\":%llu,\"journal_missing\":%llu,"
	       "\"hosts\":[",
	       first->problem == LFS_AUDIT_INTACT ? "true" : "false",
	       lfs_audit_problem_name(first->problem), (unsigned long long)first->line, msg,
	       (unsigned long long)rep->entries, (unsigned long long)rep->last_seq,
	       (unsigned long long)rep->keyed, (unsigned long long)rep->unsealed,
	       rep->macs_checked ? "true" : "false", (unsigned long long)rep->head_seq,
	       rep->head_keyed ? "true" : "false", (unsigned long long)rep->anchor_seq,
	       rep->journal_checked ? "true" : "false", (unsigned long long)rep->journal_entries,
	       (unsigned long long)rep->journal_last_seq, (unsigned long long)rep->journal_missing);
	for (size_t i = 0; i < hosts->n; i++)
		print_host_json(&hosts->v[i], i == 0);
	printf("]}\n");
}

/* One line per host log (after the main log's report). */
static void print_hosts(const struct lfs_audit_hosts *hosts)
{
	for (size_t i = 0; i < hosts->n; i++) {
		const struct lfs_audit_host_report *h = &hosts->v[i];
		const struct lfs_audit_report *rep = &h->rep;
		if (h->planted) {
			printf("FAILED: %s\n", rep->message);
			continue;
		}
		if (rep->problem != LFS_AUDIT_INTACT) {
			printf("host %s: FAILED: %s\n", h->name, rep->message);
			continue;
		}
		printf("host %s: OK: %llu entries, last seq %llu, %llu keyed; %llu unkeyed entries "
		       "after the last keyed one (not yet sealed)%s\n",
		       h->name, (unsigned long long)rep->entries, (unsigned long long)rep->last_seq,
		       (unsigned long long)rep->keyed, (unsigned long long)rep->unsealed,
		       h->registered ? ""
		                     : "; not registered in the main log (no keyed entry yet)");
		if (rep->journal_checked)
			printf(
			    "host %s: journal: %llu copies up to seq %llu agree with the log; %llu "
			    "entries of the log have no copy there\n",
			    h->name, (unsigned long long)rep->journal_entries,
			    (unsigned long long)rep->journal_last_seq,
			    (unsigned long long)rep->journal_missing);
	}
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
		printf(
		    "journal: %llu copies up to seq %llu agree with the log; %llu entries of the "
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
		return lfs_cli_usage_error("audit",
		                           "--journal and --journal-dir exclude each other");
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
	if (r < 0) {
		sodium_memzero(key, sizeof(key));
		lfs_vault_close(&v);
		lfs_cli_error("cannot read the audit log of %s: %s", path, strerror(-r));
		return LFS_EXIT_ERROR;
	}
	if ((journal || journal_dir) && rep.problem == LFS_AUDIT_INTACT) {
		r = lfs_audit_check_journal(v.dirfd, &v.cfg, journal_dir, &rep);
		if (r < 0) {
			sodium_memzero(key, sizeof(key));
			lfs_vault_close(&v);
			lfs_cli_error("cannot compare with the %s: %s",
			              journal_dir ? "journal files" : "system journal",
			              strerror(-r));
			return LFS_EXIT_ERROR;
		}
	}
	/* Shared vaults: one log per host beside the main log. */
	struct lfs_audit_hosts hosts;
	r = lfs_audit_verify_hosts(v.dirfd, &v.cfg, no_key ? NULL : key, journal || journal_dir,
	                           journal_dir, &hosts);
	sodium_memzero(key, sizeof(key));
	lfs_vault_close(&v);
	if (r < 0) {
		lfs_cli_error("cannot read the host audit logs of %s: %s", path, strerror(-r));
		return LFS_EXIT_ERROR;
	}
	if (json) {
		print_report_json(&rep, &hosts);
	} else {
		print_report(&rep);
		print_hosts(&hosts);
	}
	bool ok = rep.problem == LFS_AUDIT_INTACT && lfs_audit_hosts_ok(&hosts);
	lfs_audit_hosts_free(&hosts);
	return ok ? LFS_EXIT_OK : LFS_EXIT_AUDIT_TAMPERED;
}

int lfs_cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return lfs_cmd_audit_show(argc - 1, argv + 1);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		audit_help();
		return LFS_EXIT_OK;
	}
	return lfs_cli_usage_error("audit", "expected 'verify' or 'show'");
}
