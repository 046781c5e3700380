/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs rotate: start a data-key rotation in a mounted volume and, with
 * --wait, follow it to the end (docs/ROTATION.md). */
#include "cli.h"
#include "ctl_client.h"
#include "../common/duration.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_SOCKET = 0x200, OPT_JSON, OPT_WAIT, OPT_PROGRESS };

static void rotate_help(void)
{
	printf("Usage: lethefs rotate [--wait [--progress=bar|json|none]] [--json] MOUNTPOINT\n"
	       "\n"
	       "Create a new data-key epoch in a mounted, unlocked volume: new and rewritten\n"
	       "files use it at once, and the daemon re-encrypts every older file, name,\n"
	       "symlink target and xattr in the background while the volume stays in use.\n"
	       "When nothing of an older epoch remains, its key is deleted from the keyring\n"
	       "(audited as rotate/epoch-destroyed). Progress: lethefs status.\n"
	       "\n"
	       "Options:\n"
	       "  --wait              follow the rotation until it completes, then print one\n"
	       "                      summary line ('rotate: done: ...', or why it stopped);\n"
	       "                      if one is already running, wait for it instead of\n"
	       "                      failing\n"
	       "  --progress=MODE     with --wait: bar (a progress bar on standard error;\n"
	       "                      the default on a terminal), json (the status as one\n"
	       "                      JSON object per line on standard output, once a\n"
	       "                      second) or none (the default otherwise)\n"
	       "  --json              print the daemon's answer (with --wait: the final\n"
	       "                      status) as one JSON object instead of the summary\n"
	       "  --socket PATH       talk to this control socket instead of finding it\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 started (or, with --wait, completed), 1 error (also: the\n"
	       "vault's disk is full), 2 usage, 11 not a lethefs mount, 12 permission\n"
	       "denied, 13 a rotation is already running (without --wait), 14 the volume is\n"
	       "locked, 15 the rotation stopped on errors (see the daemon's log), 19 the\n"
	       "rotation paused because the backing store is full (no space, or quota): free\n"
	       "space, then 'lethefs rotate MOUNTPOINT' resumes it (so does a remount).\n");
}

static void get(const char *resp, const char *key, char *out, size_t len)
{
	if (lfs_json_get(resp, strlen(resp), key, out, len) < 0)
		snprintf(out, len, "0");
}

/* "3m20s" for an estimate that means something, else "--": unknown (-1),
 * or so far off (more than a week) that it says nothing yet. */
static void eta_text(const char *eta, char *out, size_t len)
{
	long long s = strtoll(eta, NULL, 10);
	if (s < 0 || s > 7 * 86400 || lfs_format_duration((uint64_t)s, out, len) < 0)
		snprintf(out, len, "--");
}

static void progress_bar(const char *resp, bool final)
{
	char fd[24], ft[24], bd[24], bt[24], rate[24], eta[24], left[32];
	get(resp, "rotation_files_done", fd, sizeof(fd));
	get(resp, "rotation_files_total", ft, sizeof(ft));
	get(resp, "rotation_bytes_done", bd, sizeof(bd));
	get(resp, "rotation_bytes_total", bt, sizeof(bt));
	get(resp, "rotation_rate_bytes_per_second", rate, sizeof(rate));
	get(resp, "rotation_eta_seconds", eta, sizeof(eta));
	double done = strtod(bd, NULL), total = strtod(bt, NULL);
	double frac = final ? 1.0 : total > 0 ? done / total : 0;
	if (frac > 1)
		frac = 1;
	if (frac < 0)
		frac = 0;
	if (final)
		snprintf(left, sizeof(left), "0s");
	else
		eta_text(eta, left, sizeof(left));
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3d%%  %s/%s files  %.1f MB/s  ETA %s   ", bar, (int)(frac * 100),
	        fd, ft, strtod(rate, NULL) / 1e6, left);
	if (final)
		fputc('\n', stderr);
}

/* The one line a script (or a log) keeps: what the rotation did. */
static void summary(const char *resp)
{
	char ep[16], fd[24], bd[24], errors[24], st[24], co[24];
	get(resp, "rotation_epoch", ep, sizeof(ep));
	get(resp, "rotation_files_done", fd, sizeof(fd));
	get(resp, "rotation_bytes_done", bd, sizeof(bd));
	get(resp, "rotation_errors", errors, sizeof(errors));
	get(resp, "rotation_started", st, sizeof(st));
	get(resp, "rotation_completed", co, sizeof(co));
	long long secs = strtoll(co, NULL, 10) - strtoll(st, NULL, 10);
	char took[32] = "less than a second";
	if (strtoll(st, NULL, 10) > 0 && secs >= 0 &&
	    (secs == 0 || lfs_format_duration((uint64_t)secs, took, sizeof(took)) > 0))
		printf("rotate: done: data-key epoch %s; %s files (%s bytes) re-encrypted in %s; "
		       "older epochs deleted\n",
		       ep, fd, bd, took);
	else
		printf("rotate: done: data-key epoch %s; %s files (%s bytes) re-encrypted; older "
		       "epochs deleted\n",
		       ep, fd, bd);
}

static int call(const struct lfs_ctl_target *t, enum lfs_ctl_verb verb, char *resp, size_t len)
{
	struct lfs_ctl_request req = {.verb = verb};
	return lfs_ctl_call(t, &req, NULL, resp, len);
}

enum progress { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_JSON };

static int wait_done(const struct lfs_ctl_target *t, bool json, enum progress mode)
{
	char resp[LFS_CTL_RESPONSE_MAX], st[16], state[16];
	struct timespec last = {0, 0};
	for (;;) {
		int r = call(t, LFS_CTL_STATUS, resp, sizeof(resp));
		if (r != 0)
			return r;
		get(resp, "state", state, sizeof(state));
		get(resp, "rotation_state", st, sizeof(st));
		/* Paused while unlocked: by the backing store (a full disk),
		 * which only lethefs rotate resumes (docs/ROTATION.md). */
		char why[16] = "";
		if (lfs_json_get(resp, strlen(resp), "rotation_pause_reason", why, sizeof(why)) < 0)
			why[0] = '\0';
		bool idle = !strcmp(st, "idle"), failed = !strcmp(st, "failed"),
		     locked = strcmp(state, "unlocked") != 0,
		     held =
		         !locked && !strcmp(st, "paused") && why[0] && strcmp(why, "locked") != 0;
		failed = failed || held;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (mode == PROGRESS_JSON &&
		    (idle || failed || locked || now.tv_sec - last.tv_sec >= 1)) {
			fputs(resp, stdout);
			fflush(stdout);
			last = now;
		}
		if (mode == PROGRESS_BAR && (idle || !(failed || locked)))
			progress_bar(resp, idle);
		else if (mode == PROGRESS_BAR)
			fputc('\n', stderr);
		if (idle || failed || locked) {
			if (json && mode != PROGRESS_JSON)
				fputs(resp, stdout);
			else if (idle && !json && mode != PROGRESS_JSON)
				summary(resp);
		}
		if (idle)
			return LFS_EXIT_OK;
		if (held) {
			lfs_cli_error(
			    "rotate: rotation paused: %s on the backing store; free space "
			    "and run `lethefs rotate %s` to resume",
			    !strcmp(why, "quota") ? "disk quota exceeded"
			                          : "no space left on device",
			    t->mountpoint ? t->mountpoint : "MOUNTPOINT");
			return LFS_EXIT_ROTATION_PAUSED;
		}
		if (failed) {
			char errors[24];
			get(resp, "rotation_errors", errors, sizeof(errors));
			lfs_cli_error(
			    "rotate: the rotation stopped on errors: %s object(s) could not "
			    "be converted; the older epochs are kept (see the daemon's log "
			    "and lethefs status)",
			    errors);
			return LFS_EXIT_ROTATION_FAILED;
		}
		if (locked) {
			lfs_cli_error("rotate: the volume was locked; the rotation resumes after "
			              "the next unlock");
			return LFS_EXIT_LOCKED;
		}
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int lfs_cmd_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {"progress", required_argument, NULL, OPT_PROGRESS},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_ctl_target target = {0};
	bool json = false, wait = false;
	int c, mode = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PROGRESS:
			mode = !strcmp(optarg, "bar")    ? PROGRESS_BAR
			       : !strcmp(optarg, "json") ? PROGRESS_JSON
			       : !strcmp(optarg, "none") ? PROGRESS_NONE
			                                 : -1;
			if (mode < 0)
				return lfs_cli_usage_error("rotate",
				                           "--progress is bar, json or none, "
				                           "not '%s'",
				                           optarg);
			break;
		case OPT_SOCKET:
			target.socket = optarg;
			break;
		case 'h':
			rotate_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("rotate", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("rotate", "expected exactly one MOUNTPOINT");
	if (mode >= 0 && !wait)
		return lfs_cli_usage_error("rotate", "--progress goes with --wait");
	if (mode < 0)
		mode = isatty(STDERR_FILENO) && !json ? PROGRESS_BAR : PROGRESS_NONE;
	target.mountpoint = argv[optind];
	char resp[LFS_CTL_RESPONSE_MAX], ok[8] = "", code[32] = "", msg[256] = "";
	int r = call(&target, LFS_CTL_ROTATE, resp, sizeof(resp));
	if (r != 0)
		return r;
	size_t len = strlen(resp);
	lfs_json_get(resp, len, "ok", ok, sizeof(ok));
	if (strcmp(ok, "true") != 0) {
		lfs_json_get(resp, len, "error", code, sizeof(code));
		lfs_json_get(resp, len, "message", msg, sizeof(msg));
		if (!strcmp(code, "busy") && wait)
			return wait_done(&target, json, (enum progress)mode);
		if (json)
			fputs(resp, stdout);
		lfs_cli_error("rotate: %s", msg[0] ? msg : code);
		if (!strcmp(code, "locked"))
			return LFS_EXIT_LOCKED;
		if (!strcmp(code, "busy"))
			return LFS_EXIT_BUSY;
		if (!strcmp(code, "denied"))
			return LFS_EXIT_DENIED;
		return LFS_EXIT_ERROR;
	}
	if (!wait) {
		if (json)
			fputs(resp, stdout);
		else {
			char ep[16] = "?";
			lfs_json_get(resp, len, "epoch", ep, sizeof(ep));
			printf(
			    "rotation started: data-key epoch %s (follow it with lethefs status)\n",
			    ep);
		}
		return LFS_EXIT_OK;
	}
	return wait_done(&target, json, (enum progress)mode);
}
