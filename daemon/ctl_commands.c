/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket's requests once a client is admitted: reading them
 * within a deadline, and the answer to each verb (unlock, lock, status,
 * rotate, staging). control.c accepts, checks the peer and calls here. */
#define _GNU_SOURCE
#include "ctl_commands.h"
#include "../common/log.h"
#include "../staging/stage.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

static void reply(int fd, const char *json)
{
	size_t len = strlen(json);
	while (len) {
		ssize_t n = send(fd, json, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		json += n;
		len -= (size_t)n;
	}
}

void lfs_ctl_reply_error(int fd, const char *code, const char *message)
{
	char buf[LFS_CTL_RESPONSE_MAX];
	size_t used =
	    (size_t)snprintf(buf, sizeof(buf), "{\"ok\":false,\"error\":\"%s\",\"message\":", code);
	if (lfs_json_put_string(buf, sizeof(buf) - 3, &used, message) < 0)
		used = (size_t)snprintf(buf, sizeof(buf), "{\"ok\":false,\"error\":\"%s\"", code);
	snprintf(buf + used, sizeof(buf) - used, "}\n");
	reply(fd, buf);
}

int64_t lfs_ctl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* recv that gives up at the connection's deadline (a monotonic time in
 * ms), not after some time without data: a client trickling one byte at
 * a time cannot hold a slot longer than CLIENT_TIMEOUT_S. */
static ssize_t recv_by(int fd, void *buf, size_t len, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - lfs_ctl_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int k = poll(&p, 1, (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return r;
	}
}

/* Reads the request line, one byte at a time so that no byte of the
 * payload is consumed with it. */
int lfs_ctl_read_line(int fd, char *buf, size_t cap, size_t *len, int64_t deadline)
{
	size_t n = 0;
	while (n < cap) {
		ssize_t r = recv_by(fd, buf + n, 1, deadline);
		if (r <= 0)
			return -EPROTO;
		if (buf[n++] == '\n') {
			*len = n;
			return 0;
		}
	}
	return -EPROTO;
}

static int read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = recv_by(fd, buf + got, len - got, deadline);
		if (r <= 0)
			return -EPROTO;
		got += (size_t)r;
	}
	return 0;
}

static void do_unlock(struct lfs_session *s, int fd, const struct lfs_ctl_request *req,
                      const struct lfs_audit_caller *who, int64_t deadline)
{
	uint8_t *secret = sodium_malloc(req->payload_len);
	if (!secret) {
		lfs_ctl_reply_error(fd, "internal", "out of memory");
		return;
	}
	if (read_exact(fd, secret, req->payload_len, deadline) < 0) {
		sodium_free(secret);
		lfs_ctl_reply_error(fd, "bad-request", "secret shorter than announced");
		return;
	}
	int slot = -1;
	int r = lfs_session_unlock(s, req->kind, secret, req->payload_len, who, &slot);
	sodium_free(secret);
	char buf[128];
	switch (r) {
	case 0:
		snprintf(buf, sizeof(buf), "{\"ok\":true,\"state\":\"unlocked\",\"slot\":%d}\n",
		         slot);
		reply(fd, buf);
		break;
	case -EALREADY:
		reply(fd, "{\"ok\":true,\"state\":\"unlocked\",\"already\":true}\n");
		break;
	case -EKEYREJECTED:
		lfs_ctl_reply_error(fd, "wrong-secret", "no keyslot opens with this secret");
		break;
	case -EINVAL:
		lfs_ctl_reply_error(fd, "corrupt",
		                    "the vault's keyslots or keyring file is corrupt");
		break;
	case -ENOTSUP:
		lfs_ctl_reply_error(
		    fd, "internal",
		    "this CPU cannot run the vault's cipher (aes256gcm needs AES-NI): no "
		    "key was installed");
		break;
	case -ERANGE:
		lfs_ctl_reply_error(
		    fd, "corrupt",
		    "no keyslot was tried: every used slot has Argon2id parameters out "
		    "of bounds (edited?)");
		break;
	default:
		lfs_ctl_reply_error(fd, "internal", strerror(-r));
	}
}

static void do_lock(struct lfs_session *s, int fd, const struct lfs_ctl_request *req,
                    const struct lfs_audit_caller *who)
{
	long files = atomic_load(&s->fs->open_files), dirs = atomic_load(&s->fs->open_dirs);
	int r = lfs_session_lock(s, req->force, req->force ? "forced" : "manual", who);
	char buf[256];
	if (r == 0 || r == -EALREADY) {
		snprintf(buf, sizeof(buf),
		         "{\"ok\":true,\"state\":\"locked\"%s,\"revoked_files\":%ld,"
		         "\"revoked_dirs\":%ld}\n",
		         r ? ",\"already\":true" : "", r ? 0 : files, r ? 0 : dirs);
		reply(fd, buf);
	} else if (r == -EBUSY) {
		snprintf(buf, sizeof(buf),
		         "%ld open files and %ld open directories; close them or use --force "
		         "(their handles then fail with EIO)",
		         files, dirs);
		lfs_ctl_reply_error(fd, "busy", buf);
	} else {
		lfs_ctl_reply_error(fd, "internal", strerror(-r));
	}
}

static void do_status(struct lfs_session *s, int fd)
{
	char buf[LFS_CTL_RESPONSE_MAX];
	int n = snprintf(buf, sizeof(buf), "{\"ok\":true,\"version\":%d,", LFS_CTL_VERSION);
	int m = lfs_session_status_json(s, buf + n, sizeof(buf) - (size_t)n - 3);
	if (m < 0) {
		lfs_ctl_reply_error(fd, "internal", "status does not fit");
		return;
	}
	snprintf(buf + n + m, sizeof(buf) - (size_t)(n + m), "}\n");
	reply(fd, buf);
}

static void do_rotate(struct lfs_session *s, int fd, const struct lfs_audit_caller *who)
{
	uint32_t epoch = 0;
	int r = s->rotation ? lfs_rotation_request(s->rotation, &epoch, who) : -ENOSYS;
	char buf[128];
	switch (r) {
	case 0:
		snprintf(buf, sizeof(buf),
		         "{\"ok\":true,\"rotation_state\":\"running\",\"epoch\":%u}\n", epoch);
		reply(fd, buf);
		lfs_info("rotation requested by uid %u pid %d", (unsigned)who->uid, (int)who->pid);
		break;
	case -EACCES:
		lfs_ctl_reply_error(fd, "locked", "the volume is locked: unlock it first");
		break;
	case -EBUSY:
		lfs_ctl_reply_error(fd, "busy",
		                    "a rotation is already under way (see lethefs status)");
		break;
	case -E2BIG:
		lfs_ctl_reply_error(fd, "full", "the keyring holds the maximum number of epochs");
		break;
	case -ENOSPC:
	case -EDQUOT:
		lfs_ctl_reply_error(fd, "no-space",
		                    "the disk holding the vault is full (no room for the "
		                    "new keyring): free space, then rotate again");
		break;
	default:
		lfs_ctl_reply_error(fd, "internal", strerror(-r));
	}
}

/* A staging directory's TTL set by an administrator (the only way to
 * extend one: docs/STAGING.md). */
static void do_stage_ttl(struct lfs_session *s, int fd, const struct lfs_ctl_request *req,
                         const struct lfs_audit_caller *who)
{
	int r = !s->staging         ? -ENOENT
	        : req->seconds == 0 ? lfs_staging_request_shred(s->staging, req->stage_id,
	                                                        "control", LFS_STAGE_ADMIN, who)
	                            : lfs_staging_set_ttl(s->staging, req->stage_id, req->seconds,
	                                                  LFS_STAGE_ADMIN, who);
	char buf[160];
	switch (r) {
	case 0: {
		struct lfs_stage_entry e;
		long long left = 0;
		if (req->seconds && lfs_staging_get(s->staging, req->stage_id, &e) == 0)
			left = (long long)(e.expires - lfs_staging_now(s->staging));
		snprintf(buf, sizeof(buf), "{\"ok\":true,\"id\":\"%08x\",\"ttl_seconds\":%lld}\n",
		         (unsigned)req->stage_id, left < 0 ? 0 : left);
		reply(fd, buf);
		break;
	}
	case -ENOENT:
		lfs_ctl_reply_error(fd, "not-found", "no live staging directory has this id");
		break;
	case -EPERM:
		lfs_ctl_reply_error(fd, "refused",
		                    "extending is not allowed by the vault's configuration "
		                    "(staging_allow_extend = no)");
		break;
	case -EFBIG:
		lfs_ctl_reply_error(fd, "refused", "longer than the vault's staging_max_ttl");
		break;
	case -EACCES:
		lfs_ctl_reply_error(fd, "locked", "the volume is locked: unlock it first");
		break;
	default:
		lfs_ctl_reply_error(fd, "internal", strerror(-r));
	}
}

static void do_stage_sync(struct lfs_session *s, int fd)
{
	if (!s->staging) {
		reply(fd, "{\"ok\":true,\"damaged\":\"\"}\n");
		return;
	}
	char dmg[300], buf[400];
	int r = lfs_staging_sync(s->staging);
	lfs_staging_damaged_list(s->staging, dmg, sizeof(dmg));
	if (r < 0) {
		lfs_ctl_reply_error(fd, "internal", strerror(-r));
		return;
	}
	snprintf(buf, sizeof(buf), "{\"ok\":true,\"damaged\":\"%s\"}\n", dmg);
	reply(fd, buf);
}

void lfs_ctl_dispatch(struct lfs_session *s, int fd, const struct lfs_ctl_request *req,
                      const struct lfs_audit_caller *who, int64_t deadline)
{
	switch (req->verb) {
	case LFS_CTL_STATUS:
		do_status(s, fd);
		break;
	case LFS_CTL_LOCK:
		do_lock(s, fd, req, who);
		break;
	case LFS_CTL_UNLOCK:
		do_unlock(s, fd, req, who, deadline);
		break;
	case LFS_CTL_ROTATE:
		do_rotate(s, fd, who);
		break;
	case LFS_CTL_STAGE_TTL:
		do_stage_ttl(s, fd, req, who);
		break;
	case LFS_CTL_STAGE_SYNC:
		do_stage_sync(s, fd);
		break;
	}
}
