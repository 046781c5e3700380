/* SPDX-License-Identifier: Apache-2.0 */
/* One audit log line and the head file, as bytes: formatting (with JSON
 * escaping of whatever the caller hands in), a strict parser that accepts
 * only the shape lethefs writes, and the hashes that chain and seal lines.
 * No I/O here, so that the unit tests and the fuzzer can reach all of it.
 * Writing and hashes: audit_line.c; parsing: audit_parse.c.
 * The format is described byte by byte in docs/AUDIT.md. */
#ifndef LETHEFS_AUDIT_LINE_H
#define LETHEFS_AUDIT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/event.h"

/* Longest line, newline included. Every input is cut so that a line always
 * fits (see the limits below), so appending never fails for length. */
#define LFS_AUDIT_LINE_MAX    4096
#define LFS_AUDIT_MAX_DETAILS 8
#define LFS_AUDIT_NAME_MAX    32  /* event, outcome and detail keys */
#define LFS_AUDIT_STR_MAX     256 /* escaped bytes of a detail string */
#define LFS_AUDIT_EXE_MAX     512 /* escaped bytes of the exe path */
#define LFS_AUDIT_HASH_LEN    32
#define LFS_AUDIT_HEAD_MAX    320 /* the head file, newline included */

/* struct lfs_audit_detail and struct lfs_audit_caller: common/event.h. */

/* What one line says, before it is sealed. */
struct lfs_audit_record {
	uint64_t seq;
	int64_t time_ms; /* Unix time in milliseconds, UTC */
	const char *event;
	const char *outcome;
	const struct lfs_audit_caller *caller; /* NULL or !known: no uid/pid/exe */
	const struct lfs_audit_detail *details;
	size_t ndetails;
};

/* A part of a parsed line: bytes [off, off+len) of the line. Strings are
 * the escaped text between the quotes, always printable ASCII. */
struct lfs_audit_span {
	uint32_t off, len;
};

struct lfs_audit_entry {
	uint64_t seq;
	int64_t time_ms;
	struct lfs_audit_span time, event, outcome;
	bool has_caller;
	uint32_t uid, pid;
	struct lfs_audit_span exe;
	bool has_login;              /* loginuid and sessionid (lines written since they exist) */
	int64_t loginuid, sessionid; /* LFS_AUDIT_UNSET: none */
	unsigned ndetails;
	struct {
		struct lfs_audit_span key, str; /* str.len == 0 && !is_str: num */
		bool is_str;
		long long num;
	} detail[LFS_AUDIT_MAX_DETAILS];
	uint8_t prev[LFS_AUDIT_HASH_LEN];
	bool has_mac;
	uint8_t mac[LFS_AUDIT_HASH_LEN];
	size_t signed_len; /* the MAC covers line[0, signed_len) */
};

/* The head file: where the log ends, and its anchor, the newest keyed
 * entry, authenticated under the audit key. An append without the key
 * carries the anchor over unchanged, so the newest keyed state survives
 * appends while locked; verify requires the anchor to name the log's last
 * keyed entry (docs/AUDIT.md section 3). */
struct lfs_audit_head {
	uint64_t seq;
	uint8_t hash[LFS_AUDIT_HASH_LEN]; /* lfs_audit_line_hash of entry seq */
	bool has_anchor;
	uint64_t keyed_seq; /* 1 <= keyed_seq <= seq */
	uint8_t keyed_hash[LFS_AUDIT_HASH_LEN];
	uint8_t keyed_mac[LFS_AUDIT_HASH_LEN]; /* lfs_audit_anchor_mac */
	bool legacy; /* the older form {"seq","hash","mac"}: its MAC is the anchor's */
};

/* Event, outcome and detail-key names: 1 to 32 of [a-z0-9-] (keys: [a-z0-9_]). */
bool lfs_audit_name_valid(const char *s, bool is_key);

/* Writes the line (newline included, then a NUL) into out, which must hold
 * LFS_AUDIT_LINE_MAX + 1 bytes, sealed with key when key is not NULL.
 * Returns the length (NUL excluded), or -EINVAL for an invalid name, a
 * duplicate detail key or too many details. */
int lfs_audit_format_line(char *out, const struct lfs_audit_record *rec,
                          const uint8_t prev[LFS_AUDIT_HASH_LEN], const uint8_t *key);
/* Parses one line without its newline. Returns 0, or -EBADMSG with a
 * static explanation in *why. */
int lfs_audit_parse_line(const char *line, size_t len, struct lfs_audit_entry *e, const char **why);

/* The head file: {"seq":N,"hash":"<hex>"[,"keyed_seq":K,"keyed_hash":"<hex>",
 * "keyed_mac":"<hex>"]} and a newline (the anchor members when
 * h->has_anchor). The parser also accepts the older {"seq":N,"hash":"<hex>",
 * "mac":"<hex>"}, an anchor naming entry N (legacy set). Returns the length
 * or -ENOSPC; the parser 0 or -EBADMSG. */
int lfs_audit_format_head(char *out, size_t outlen, const struct lfs_audit_head *h);
int lfs_audit_parse_head(const char *text, size_t len, struct lfs_audit_head *h);
/* Makes h's anchor entry seq with line hash `hash`, MAC'd under key. */
void lfs_audit_set_anchor(struct lfs_audit_head *h, const uint8_t key[32], uint64_t seq,
                          const uint8_t hash[LFS_AUDIT_HASH_LEN]);
/* Whether h's anchor authenticates under key (constant-time compare). */
bool lfs_audit_anchor_ok(const uint8_t key[32], const struct lfs_audit_head *h);

/* BLAKE2b-256 of a line's bytes (newline excluded): the next line's "prev". */
void lfs_audit_line_hash(uint8_t out[LFS_AUDIT_HASH_LEN], const char *line, size_t len);
/* The "prev" of entry 1: binds a log to its vault's uuid. */
void lfs_audit_genesis(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t uuid[16]);
/* Keyed MACs of a line's signed bytes and of a head's signed bytes, with
 * distinct BLAKE2b personalisations so that neither passes for the other. */
void lfs_audit_line_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], const char *bytes,
                        size_t len);
void lfs_audit_head_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], const char *bytes,
                        size_t len);
/* The anchor's MAC: lfs_audit_head_mac over the text {"seq":K,"hash":"<hex>"
 * (no closing brace), which is what the older keyed head files MAC'd. */
void lfs_audit_anchor_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], uint64_t seq,
                          const uint8_t hash[LFS_AUDIT_HASH_LEN]);
/* Constant-time comparison of a stored MAC with the one it should be. */
bool lfs_audit_mac_ok(const uint8_t key[32], const char *line, const struct lfs_audit_entry *e);

/* s as a quoted JSON string with the log's escaping (printable ASCII),
 * cut to fit outlen (at least 16) bytes with the NUL. For JSON reports. */
void lfs_audit_json_quote(char *out, size_t outlen, const char *s);

/* "2026-11-29T07:37:36.123Z" (25 bytes with the NUL). */
void lfs_audit_format_time(int64_t time_ms, char out[25]);

#endif
