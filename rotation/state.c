/* SPDX-License-Identifier: Apache-2.0 */
/* Rotation state and progress: the epochs, lethefs.rotation (when it
 * started), the keyring file, audit entries and the status members. */
#define _GNU_SOURCE
#include "state.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lfs_rot_audit(struct lfs_rotation *r, const char *outcome, const char *k1, long long v1,
                   const char *k2, long long v2)
{
	struct lfs_audit_detail d[] = {
	    {"mountpoint", r->env.mountpoint, 0}, {k1, NULL, v1}, {k2, NULL, v2}};
	lfs_event_emit(&r->env.events, "rotate", outcome, NULL, d, k2 ? 3 : 2);
}

void lfs_rot_audit_reason(struct lfs_rotation *r, const char *outcome, const char *key,
                          const char *reason)
{
	struct lfs_audit_detail d[] = {
	    {"mountpoint", r->env.mountpoint, 0}, {"epoch", NULL, r->target}, {key, reason, 0}};
	lfs_event_emit(&r->env.events, "rotate", outcome, NULL, d, reason ? 3 : 2);
}

void lfs_rot_audit_started(struct lfs_rotation *r, const struct lfs_audit_caller *caller,
                           uint32_t epoch, uint32_t previous)
{
	struct lfs_audit_detail d[] = {{"mountpoint", r->env.mountpoint, 0},
	                               {"epoch", NULL, epoch},
	                               {"previous_epoch", NULL, previous},
	                               {"trigger", "command", 0}};
	lfs_event_emit(&r->env.events, "rotate", "started", caller, d, 4);
}

/* Reads the epochs and decides the state; with lock held. */
void lfs_rot_refresh_epochs(struct lfs_rotation *r)
{
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(r->env.kr, ep, LFS_MAX_EPOCHS, &cur);
	if (n < 0) {
		if (r->state == LFS_ROT_RUNNING)
			r->state = LFS_ROT_PAUSED;
		return;
	}
	r->nold = 0;
	for (int i = 0; i < n; i++)
		if (ep[i] != cur && r->nold < 8)
			r->old_epochs[r->nold++] = ep[i];
	r->target = cur;
	if (r->nold == 0) {
		/* In a pass, the worker says when it is done: the older
		 * epochs leave the keyring while it retires them, before it
		 * has recorded the last one retired and the completion. */
		if (!r->in_pass)
			r->state = LFS_ROT_IDLE;
	} else if (r->state == LFS_ROT_IDLE || r->state == LFS_ROT_PAUSED) {
		r->state = LFS_ROT_RUNNING;
		if (!r->started)
			r->started = time(NULL);
	}
}

int lfs_rot_store_keyring(struct lfs_rotation *r)
{
	uint8_t ring[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	int e = lfs_keyring_seal(r->env.kr, ring, &len);
	if (e == 0)
		e = lfs_replace_file(r->env.vault->dirfd, LFS_KEYRING_FILE_NAME, ring, len, 0600);
	return e;
}

void lfs_rot_store_state(struct lfs_rotation *r)
{
	char buf[128];
	int n =
	    snprintf(buf, sizeof(buf), "lethefs-rotation 1\nstarted=%lld\n", (long long)r->started);
	int e =
	    n < 0 || (size_t)n >= sizeof(buf)
	        ? -EOVERFLOW
	        : lfs_replace_file(r->env.vault->dirfd, LFS_ROTATION_FILE, buf, (size_t)n, 0600);
	/* Only the status's start time depends on it (rotate.h). */
	if (e < 0)
		lfs_warn("rotation: cannot record its start in %s: %s", LFS_ROTATION_FILE,
		         strerror(-e));
}

void lfs_rot_load_state(struct lfs_rotation *r)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	if (lfs_read_small_file(r->env.vault->dirfd, LFS_ROTATION_FILE, 256, &buf, &len) < 0)
		return;
	long long t = 0;
	char tmp[257];
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	free(buf);
	if (sscanf(tmp, "lethefs-rotation 1\nstarted=%lld", &t) == 1)
		r->started = (time_t)t;
	else
		lfs_warn("rotation: %s is malformed: the start time is unknown", LFS_ROTATION_FILE);
}

static const char *state_name(enum lfs_rotation_state s)
{
	switch (s) {
	case LFS_ROT_RUNNING:
		return "running";
	case LFS_ROT_PAUSED:
	case LFS_ROT_HELD:
		return "paused";
	case LFS_ROT_FAILED:
		return "failed";
	default:
		return "idle";
	}
}

/* Why a rotation is paused: a word for scripts and a sentence for people
 * ("" for both when it is not). */
static const char *pause_reason(const struct lfs_rotation *r)
{
	if (r->state == LFS_ROT_PAUSED)
		return "locked";
	if (r->state != LFS_ROT_HELD)
		return "";
	return r->pause_err == EDQUOT ? "quota" : "no-space";
}

static const char *pause_message(const struct lfs_rotation *r)
{
	if (r->state == LFS_ROT_PAUSED)
		return "the volume is locked; the rotation resumes after the next unlock";
	if (r->state != LFS_ROT_HELD)
		return "";
	return r->pause_err == EDQUOT
	           ? "disk quota exceeded on the backing store; free space and run lethefs rotate "
	             "MOUNTPOINT to resume"
	           : "no space left on device on the backing store; free space and run lethefs "
	             "rotate MOUNTPOINT to resume";
}

/* "\"2026-11-29T09:00:00Z\"" (with the quotes), or null for 0 (unknown). */
static void iso_or_null(time_t t, char *out, size_t len)
{
	struct tm tm;
	if (t <= 0 || !gmtime_r(&t, &tm) || !strftime(out, len, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm))
		snprintf(out, len, "null");
}

int lfs_rotation_status_json(struct lfs_rotation *r, char *buf, size_t len, size_t *used)
{
	pthread_mutex_lock(&r->lock);
	/* Shared: another host may walk; its progress is in the file. */
	if (r->env.lease && !r->walker && r->state == LFS_ROT_RUNNING)
		lfs_rot_load_progress(r);
	if (lfs_keyring_is_unlocked(r->env.kr))
		lfs_rot_refresh_epochs(r);
	else if (r->state == LFS_ROT_RUNNING)
		r->state = LFS_ROT_PAUSED;
	double active =
	    r->active_seconds + (r->pass_start > 0 ? lfs_monotonic_seconds() - r->pass_start : 0);
	double rate = active > 0.5 ? (double)r->bytes_done / active : 0;
	uint64_t left = r->bytes_total > r->bytes_done ? r->bytes_total - r->bytes_done : 0;
	long long eta = r->state != LFS_ROT_RUNNING ? 0
	                : rate > 0                  ? (long long)((double)left / rate)
	                                            : -1;
	char olds[96] = "";
	size_t ol = 0;
	for (unsigned i = 0; i < r->nold && ol < sizeof(olds) - 12; i++)
		ol += (size_t)snprintf(olds + ol, sizeof(olds) - ol, "%s%u", i ? "," : "",
		                       r->old_epochs[i]);
	int n = snprintf(buf + *used, len - *used,
	                 ",\"rotation_state\":\"%s\",\"rotation_epoch\":%u,"
	                 "\"rotation_old_epochs\":\"%s\",\"rotation_started\":%lld,"
	                 "\"rotation_completed\":%lld,\"rotation_files_done\":%llu,"
	                 "\"rotation_files_total\":%llu,\"rotation_bytes_done\":%llu,"
	                 "\"rotation_bytes_total\":%llu,\"rotation_rate_bytes_per_second\":%.0f,"
	                 "\"rotation_eta_seconds\":%lld,\"rotation_dirs_done\":%llu,"
	                 "\"rotation_links_done\":%llu,\"rotation_xattrs_done\":%llu,"
	                 "\"rotation_errors\":%llu,\"rotation_passes\":%llu,"
	                 "\"rotation_last_retired_epoch\":%u",
	                 state_name(r->state), r->target, olds, (long long)r->started,
	                 (long long)r->completed, (unsigned long long)r->files_done,
	                 (unsigned long long)r->files_total, (unsigned long long)r->bytes_done,
	                 (unsigned long long)r->bytes_total, rate, eta,
	                 (unsigned long long)r->dirs_done, (unsigned long long)r->links_done,
	                 (unsigned long long)r->xattrs_done, (unsigned long long)r->errors,
	                 (unsigned long long)r->passes, r->last_retired);
	if (n >= 0 && (size_t)n < len - *used) {
		*used += (size_t)n;
		n = snprintf(buf + *used, len - *used, ",\"rotation_walker\":\"%s\"",
		             !r->env.lease ? ""
		             : r->walker   ? r->env.lease->me.host
		                           : r->walker_host);
	}
	if (n >= 0 && (size_t)n < len - *used) {
		*used += (size_t)n;
		n = snprintf(buf + *used, len - *used,
		             ",\"rotation_pause_reason\":\"%s\",\"rotation_pause_message\":\"%s\"",
		             pause_reason(r), pause_message(r));
	}
	time_t started = r->started, completed = r->completed;
	pthread_mutex_unlock(&r->lock);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	/* The same two times in ISO 8601, as every other time in the status;
	 * the Unix members above stay for the scripts that read them. */
	char s_at[40], c_at[40];
	iso_or_null(started, s_at, sizeof(s_at));
	iso_or_null(completed, c_at, sizeof(c_at));
	n = snprintf(buf + *used, len - *used,
	             ",\"rotation_started_at\":%s,\"rotation_completed_at\":%s", s_at, c_at);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}
