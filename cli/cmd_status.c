/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs status: a mount's state for people (the default), for scripts
 * (--json, --check, --wait-unlocked) and for monitoring (--prometheus,
 * status_prometheus.c). */
#include "cli.h"
#include "ctl_answer.h"
#include "ctl_client.h"
#include "status_prometheus.h"
#include "../common/duration.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_SOCKET = 0x200, OPT_JSON, OPT_CHECK, OPT_WAIT, OPT_TIMEOUT, OPT_PROMETHEUS };

static void status_help(void)
{
	printf("Usage: lethefs status [--json | --check | --prometheus] MOUNTPOINT\n"
	       "       lethefs status --wait-unlocked [--timeout T] MOUNTPOINT\n"
	       "       lethefs status --prometheus MOUNTPOINT...\n"
	       "\n"
	       "Show a mounted volume's state as its daemon sees it: locked or unlocked,\n"
	       "since when, open files, idle time and idle lock, failed unlock attempts and\n"
	       "what the next failure would wait, key rotation, the audit log's last entry.\n"
	       "\n"
	       "Options:\n"
	       "  --json              print the daemon's answer as one JSON object on one\n"
	       "                      line (members: docs/CLI-ABI.md, stable for scripts)\n"
	       "  --check             print only 'unlocked' or 'locked', and exit by state:\n"
	       "                      0 unlocked, 14 locked, 11 not a lethefs mount\n"
	       "  --wait-unlocked     wait until the volume is mounted and unlocked, then\n"
	       "                      exit 0 (for ExecStartPre= and scripts); a mount that\n"
	       "                      is not there yet is waited for too\n"
	       "  --timeout T         with --wait-unlocked: give up after T (e.g. 90s, 5min;\n"
	       "                      default: wait as long as it takes) and exit as\n"
	       "                      --check would: 14 still locked, 11 still not mounted\n"
	       "  --prometheus        print the Prometheus text format (node_exporter's\n"
	       "                      textfile collector): one sample per metric and\n"
	       "                      MOUNTPOINT; a mount whose daemon does not answer has\n"
	       "                      lethefs_up 0. Exit 0 once everything is printed\n"
	       "  -q, --quiet         with --check or --wait-unlocked: print nothing\n"
	       "%s"
	       "  -h, --help          show this help\n"
	       "\n"
	       "%s, 14 (--check, --wait-unlocked) the volume is locked.\n",
	       lfs_socket_help, lfs_control_exit_help);
}

/* One status request: 0 with the answer in resp, or an exit code after
 * printing why. */
static int query(const struct lfs_ctl_target *t, char *resp, size_t len)
{
	struct lfs_ctl_request req = {.verb = LFS_CTL_STATUS};
	int r = lfs_ctl_call(t, &req, NULL, resp, len);
	if (r != 0)
		return r;
	return lfs_ctl_answer_ok(resp) ? 0 : lfs_ctl_answer_error("status", resp);
}

static bool is_unlocked(const char *resp)
{
	char state[16] = "";
	lfs_json_get(resp, strlen(resp), "state", state, sizeof(state));
	return !strcmp(state, "unlocked");
}

static void print_member(const char *resp, const char *label, const char *key)
{
	char v[512];
	if (lfs_json_get(resp, strlen(resp), key, v, sizeof(v)) == 0)
		printf("  %-16s %s\n", label, strcmp(v, "null") && *v ? v : "-");
}

static void get(const char *resp, const char *key, char *out, size_t len, const char *dflt)
{
	if (lfs_json_get(resp, strlen(resp), key, out, len) < 0)
		snprintf(out, len, "%s", dflt);
}

/* "3m20s" for a number of seconds, "-" when unknown (negative). */
static void human_seconds(const char *secs, char *out, size_t len)
{
	long long s = strtoll(secs, NULL, 10);
	if (s < 0 || lfs_format_duration((uint64_t)s, out, len) < 0)
		snprintf(out, len, "-");
}

static void print_rotation(const char *resp)
{
	char rs[16], ep[16], fd[24], ft[24], bd[24], bt[24], rate[24], eta[24], left[64];
	if (lfs_json_get(resp, strlen(resp), "rotation_state", rs, sizeof(rs)) < 0)
		return;
	get(resp, "rotation_epoch", ep, sizeof(ep), "-");
	get(resp, "rotation_files_done", fd, sizeof(fd), "0");
	get(resp, "rotation_files_total", ft, sizeof(ft), "0");
	get(resp, "rotation_bytes_done", bd, sizeof(bd), "0");
	get(resp, "rotation_bytes_total", bt, sizeof(bt), "0");
	get(resp, "rotation_rate_bytes_per_second", rate, sizeof(rate), "0");
	get(resp, "rotation_eta_seconds", eta, sizeof(eta), "-1");
	human_seconds(eta, left, sizeof(left));
	printf("  %-16s %s (data-key epoch %s)\n", "key rotation:", rs, ep);
	if (strcmp(rs, "idle") != 0)
		printf("  %-16s %s of %s files, %s of %s bytes, %.1f MB/s, %s left\n", "", fd, ft,
		       bd, bt, strtod(rate, NULL) / 1e6, left);
	print_member(resp, "rotation start:", "rotation_started_at");
	print_member(resp, "old epochs:", "rotation_old_epochs");
	char why[256] = "";
	if (lfs_json_get(resp, strlen(resp), "rotation_pause_message", why, sizeof(why)) == 0 &&
	    why[0])
		printf("  %-16s %s\n", "paused:", why);
}

static void print_status(const char *mnt, const char *resp)
{
	char state[16], idle[32], idle_lock[32], files[24], dirs[24], failed[24], delay[24];
	get(resp, "state", state, sizeof(state), "?");
	get(resp, "idle_seconds", idle, sizeof(idle), "0");
	get(resp, "idle_lock_seconds", idle_lock, sizeof(idle_lock), "0");
	get(resp, "open_files", files, sizeof(files), "0");
	get(resp, "open_dirs", dirs, sizeof(dirs), "0");
	get(resp, "failed_unlocks", failed, sizeof(failed), "0");
	get(resp, "unlock_delay_seconds", delay, sizeof(delay), "-1");
	printf("%s: %s\n", mnt, state);
	print_member(resp, "vault:", "vault");
	print_member(resp, "uuid:", "uuid");
	print_member(resp, "cipher:", "cipher");
	print_member(resp, "daemon pid:", "pid");
	print_member(resp, "mounted since:", "mounted_since");
	print_member(resp, "unlocked since:", "unlocked_since");
	printf("  %-16s %s files, %s directories\n", "open:", files, dirs);
	char d[64] = "off", wait[64];
	if (strcmp(idle_lock, "0"))
		human_seconds(idle_lock, d, sizeof(d));
	printf("  %-16s %s s (idle lock: %s)\n", "idle:", idle, d);
	human_seconds(delay, wait, sizeof(wait));
	printf("  %-16s %s (a wrong secret now is answered after %s)\n", "failed unlocks:", failed,
	       wait);
	print_member(resp, "control socket:", "control_socket");
	print_member(resp, "audit entries:", "audit_seq");
	print_rotation(resp);
}

/* Polls until the volume is unlocked (0) or the deadline passes: then the
 * exit code of the last state seen, with the last error (if any) printed.
 * Errors that waiting cannot cure (denied, untrusted) end it at once. */
static int wait_unlocked(struct lfs_ctl_target *t, uint64_t timeout, bool quiet)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	char resp[LFS_CTL_RESPONSE_MAX];
	for (;;) {
		lfs_cli_error_hold();
		int r = query(t, resp, sizeof(resp));
		if (r == 0 && is_unlocked(resp)) {
			lfs_cli_error_release(false);
			if (!quiet)
				puts("unlocked");
			return LFS_EXIT_OK;
		}
		if (r == 0)
			r = LFS_EXIT_LOCKED;
		bool curable = r == LFS_EXIT_LOCKED || r == LFS_EXIT_NOT_MOUNTED ||
		               r == LFS_EXIT_TIMEOUT || r == LFS_EXIT_OVERLOADED;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t ms = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
		             (now.tv_nsec - start.tv_nsec) / 1000000;
		bool expired = timeout && (uint64_t)ms >= timeout * 1000;
		if (!curable || expired) {
			lfs_cli_error_release(true);
			if (r == LFS_EXIT_LOCKED)
				lfs_cli_error("status: %s is still locked", t->mountpoint);
			if (!quiet && r == LFS_EXIT_LOCKED)
				puts("locked");
			return r == LFS_EXIT_TIMEOUT ? LFS_EXIT_NOT_MOUNTED : r;
		}
		lfs_cli_error_release(false);
		struct timespec nap = {0, 250 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

int lfs_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"wait-unlocked", no_argument, NULL, OPT_WAIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
	    {"quiet", no_argument, NULL, 'q'},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_ctl_target target = {0};
	bool json = false, check = false, wait = false, prom = false, quiet = false;
	bool timeout_given = false;
	uint64_t timeout = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_TIMEOUT:
			if (lfs_parse_duration(optarg, &timeout) < 0)
				return lfs_cli_usage_error("status", "bad --timeout '%s'", optarg);
			timeout_given = true;
			break;
		case OPT_PROMETHEUS:
			prom = true;
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_SOCKET:
			target.socket = optarg;
			break;
		case 'h':
			status_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("status", "unknown option");
		}
	}
	if (json + check + wait + prom > 1)
		return lfs_cli_usage_error("status", "--json, --check, --wait-unlocked and "
		                                     "--prometheus exclude each other");
	if (timeout_given && !wait)
		return lfs_cli_usage_error("status", "--timeout goes with --wait-unlocked");
	if (prom) {
		if (argc - optind < 1)
			return lfs_cli_usage_error("status", "expected at least one MOUNTPOINT");
		if (target.socket && argc - optind != 1)
			return lfs_cli_usage_error("status", "--socket names one mount's socket");
		return lfs_status_prometheus(argv + optind, argc - optind, target.socket);
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("status", "expected exactly one MOUNTPOINT");
	target.mountpoint = argv[optind];
	if (wait)
		return wait_unlocked(&target, timeout, quiet);
	char resp[LFS_CTL_RESPONSE_MAX];
	int r = query(&target, resp, sizeof(resp));
	if (r != 0)
		return r;
	if (check) {
		bool unlocked = is_unlocked(resp);
		if (!quiet)
			puts(unlocked ? "unlocked" : "locked");
		return unlocked ? LFS_EXIT_OK : LFS_EXIT_LOCKED;
	}
	if (json)
		fputs(resp, stdout);
	else
		print_status(target.mountpoint, resp);
	return LFS_EXIT_OK;
}
