/* SPDX-License-Identifier: Apache-2.0 */
/* The control-socket protocol between the lethefs CLI and a mount daemon
 * (docs/CONTROL.md). One request per connection:
 *
 *   "lethefs-ctl 1 VERB [ARGS]\n" [payload]
 *
 * answered by one line of JSON. Parsing is here, away from sockets and
 * FUSE, so that it can be fuzzed. */
#ifndef LETHEFS_CTLPROTO_H
#define LETHEFS_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LFS_CTL_MAGIC        "lethefs-ctl"
#define LFS_CTL_VERSION      1
#define LFS_CTL_HEADER_MAX   128  /* the request line, newline included */
#define LFS_CTL_PAYLOAD_MAX  4096 /* a secret */
#define LFS_CTL_RESPONSE_MAX 4096

enum lfs_ctl_verb {
	LFS_CTL_STATUS = 1,
	LFS_CTL_LOCK,
	LFS_CTL_UNLOCK,
	LFS_CTL_ROTATE,     /* start a data-key rotation */
	LFS_CTL_STAGE_TTL,  /* a staging directory's new TTL (extend, shorten, 0 = shred) */
	LFS_CTL_STAGE_SYNC, /* store the staging index now (stage list) */
};

/* What an unlock payload is: a slot's secret (passphrase, key file or
 * extpass output), or the 32-byte master key from a recovery key. */
enum lfs_ctl_secret_kind {
	LFS_CTL_SECRET = 1,
	LFS_CTL_MASTER,
};

struct lfs_ctl_request {
	enum lfs_ctl_verb verb;
	bool force;                    /* lock */
	enum lfs_ctl_secret_kind kind; /* unlock */
	size_t payload_len;            /* unlock: bytes that follow the line */
	uint32_t stage_id;             /* stage-ttl: the staging id */
	uint64_t seconds;              /* stage-ttl: the TTL from now */
};

/* Parses the request line (without payload). len is the line's length
 * including its '\n'. Returns 0 or -EINVAL. */
int lfs_ctl_parse_request(const char *line, size_t len, struct lfs_ctl_request *req);
/* Formats a request line; returns its length or -1. */
int lfs_ctl_format_request(const struct lfs_ctl_request *req, char *out, size_t outlen);

/* Appends s as a JSON string (quotes included) to out at *used. Control
 * characters, quotes, backslashes and bytes that are not UTF-8 are
 * escaped, so a hostile path cannot break the line. Returns 0 or -1 when
 * out is full. */
int lfs_json_put_string(char *out, size_t outlen, size_t *used, const char *s);

/* Finds member key in a JSON object (one line, as the daemon writes)
 * and copies its value: strings unescaped (\uXXXX below 0x80 only), other
 * values as their literal text, a nested object as its text (which this
 * function reads in turn). Returns 0, -ENOENT, or -EINVAL when the
 * object is malformed or the value does not fit. */
int lfs_json_get(const char *json, size_t len, const char *key, char *out, size_t outlen);

#endif
