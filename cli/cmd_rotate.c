/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs rotate: start a data-key rotation in a mounted volume and, with
 * --wait, follow it to the end (docs/ROTATION.md). */
#include "cli.h"
#include "ctl_client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_SOCKET = 0x200, OPT_JSON, OPT_WAIT };

static void rotate_help(void)
{
	printf("Usage: lethefs rotate [--wait] [--json] MOUNTPOINT\n"
	       "\n"
	       "Create a new data-key epoch in a mounted, unlocked volume: new and rewritten\n"
	       "files use it at once, and the daemon re-encrypts every older file, name,\n"
	       "symlink target and xattr in the background while the volume stays in use.\n"
	       "When nothing of an older epoch remains, its key is deleted from the keyring\n"
	       "(audited as rotate/epoch-destroyed). Progress: lethefs status.\n"
	       "\n"
	       "Options:\n"
	       "  --wait              follow the rotation until it completes (a progress\n"
	       "                      bar on a terminal); if one is already running, wait\n"
	       "                      for it instead of failing\n"
	       "  --json              print the daemon's answer (with --wait: the final\n"
	       "                      status) as one JSON object\n"
	       "  --socket PATH       talk to this control socket instead of finding it\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 started (or, with --wait, completed), 1 error, 2 usage,\n"
	       "11 not a lethefs mount, 12 permission denied, 13 a rotation is already\n"
	       "running (without --wait), 14 the volume is locked, 15 the rotation stopped\n"
	       "on errors (see the daemon's log).\n");
}

static void get(const char *resp, const char *key, char *out, size_t len)
{
	if (lfs_json_get(resp, strlen(resp), key, out, len) < 0)
		snprintf(out, len, "0");
}

static void progress(const char *resp, bool final)
{
	char fd[24], ft[24], bd[24], bt[24], rate[24], eta[24];
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
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3d%%  %s/%s files  %.1f MB/s  ETA %s s   ", bar,
		(int)(frac * 100), fd, ft, strtod(rate, NULL) / 1e6, final ? "0" : eta);
	if (final)
		fputc('\n', stderr);
}

static int call(const struct lfs_ctl_target *t, enum lfs_ctl_verb verb, char *resp, size_t len)
{
	struct lfs_ctl_request req = {.verb = verb};
	return lfs_ctl_call(t, &req, NULL, resp, len);
}

static int wait_done(const struct lfs_ctl_target *t, bool json)
{
	char resp[LFS_CTL_RESPONSE_MAX], st[16], state[16];
	bool tty = isatty(STDERR_FILENO) && !json;
	for (;;) {
		int r = call(t, LFS_CTL_STATUS, resp, sizeof(resp));
		if (r != 0)
			return r;
		get(resp, "state", state, sizeof(state));
		get(resp, "rotation_state", st, sizeof(st));
		if (!strcmp(st, "idle")) {
			if (tty)
				progress(resp, true);
			if (json)
				fputs(resp, stdout);
			return LFS_EXIT_OK;
		}
		if (!strcmp(st, "failed")) {
			if (json)
				fputs(resp, stdout);
			lfs_cli_error("rotate: the rotation stopped on errors (see the daemon's "
				      "log and lethefs status)");
			return LFS_EXIT_ROTATION_FAILED;
		}
		if (strcmp(state, "unlocked") != 0) {
			if (json)
				fputs(resp, stdout);
			lfs_cli_error("rotate: the volume was locked; the rotation resumes after "
				      "the next unlock");
			return LFS_EXIT_LOCKED;
		}
		if (tty)
			progress(resp, false);
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int lfs_cmd_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"wait", no_argument, NULL, OPT_WAIT},
		{"json", no_argument, NULL, OPT_JSON},
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct lfs_ctl_target target = {0};
	bool json = false, wait = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_JSON:
			json = true;
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
			return wait_done(&target, json);
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
			printf("rotation started: data-key epoch %s (follow it with lethefs status)\n",
			       ep);
		}
		return LFS_EXIT_OK;
	}
	return wait_done(&target, json);
}
