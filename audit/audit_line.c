/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "audit_line.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

/* BLAKE2b personalisations (16 bytes each): one per use of the hash. */
static const uint8_t PERSONAL_LINE_MAC[16] = "lethefs-audit-ln";
static const uint8_t PERSONAL_HEAD_MAC[16] = "lethefs-audit-hd";
static const uint8_t PERSONAL_GENESIS[16] = "lethefs-audit-g0";

/* Shortened to make room for the closing quote and the cut mark. */
#define CUT_MARK "\\u2026"

bool lfs_audit_name_valid(const char *s, bool is_key)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > LFS_AUDIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		          (is_key ? c == '_' : c == '-');
		if (!ok)
			return false;
	}
	return true;
}

/* ---- writing ----------------------------------------------------------- */

/* A bounded output buffer. The caps on every input guarantee a line fits;
 * overflow is still tracked so that a broken cap truncates, never overruns. */
struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->overflow = true;
		return;
	}
	put(o, tmp, (size_t)n);
}

static void put_hex(struct out *o, const uint8_t *b, size_t n)
{
	char hex[2 * LFS_AUDIT_HASH_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), b, n);
	put(o, hex, 2 * n);
}

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and
 * the code point, or 0 for an invalid, overlong, surrogate or out-of-range
 * sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, min = 0x80, *cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, min = 0x800, *cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, min = 0x10000, *cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

/* Escapes one input character starting at s into esc; returns the number
 * of input bytes consumed. Output is printable ASCII only: a hostile exe
 * path or detail can neither end the line nor the string, nor reach a
 * terminal as a control sequence. Invalid UTF-8 becomes U+FFFD. */
static size_t escape_one(const unsigned char *s, size_t n, char esc[16])
{
	unsigned char c = s[0];
	if (c == '"' || c == '\\') {
		snprintf(esc, 16, "\\%c", c);
		return 1;
	}
	if (c == '\n' || c == '\r' || c == '\t') {
		snprintf(esc, 16, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
		return 1;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(esc, 16, "\\u%04x", c);
		return 1;
	}
	if (c < 0x80) {
		esc[0] = (char)c;
		esc[1] = '\0';
		return 1;
	}
	uint32_t cp;
	size_t len = utf8_decode(s, n, &cp);
	if (len == 0) {
		snprintf(esc, 16, "\\ufffd");
		return 1;
	}
	if (cp < 0x10000) {
		snprintf(esc, 16, "\\u%04" PRIx32, cp);
	} else {
		cp -= 0x10000;
		snprintf(esc, 16, "\\u%04" PRIx32 "\\u%04" PRIx32, 0xd800 + (cp >> 10),
		         0xdc00 + (cp & 0x3ff));
	}
	return len;
}

static size_t escaped_len(const unsigned char *p, size_t n)
{
	size_t total = 0;
	while (n) {
		char esc[16];
		size_t took = escape_one(p, n, esc);
		total += strlen(esc);
		p += took;
		n -= took;
	}
	return total;
}

/* Writes s as a JSON string of at most max escaped bytes between the
 * quotes; a longer one is cut at a character boundary and ends with U+2026. */
static void put_str(struct out *o, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), used = 0;
	size_t room = escaped_len(p, n) <= max ? max : max - (sizeof(CUT_MARK) - 1);
	put(o, "\"", 1);
	while (n) {
		char esc[16];
		size_t took = escape_one(p, n, esc);
		size_t elen = strlen(esc);
		if (used + elen > room) {
			puts_(o, CUT_MARK);
			break;
		}
		put(o, esc, elen);
		used += elen;
		p += took;
		n -= took;
	}
	put(o, "\"", 1);
}

void lfs_audit_json_quote(char *out, size_t outlen, const char *s)
{
	struct out o = {.buf = out, .cap = outlen - 1};
	put_str(&o, s, outlen - 3);
	out[o.len] = '\0';
}

void lfs_audit_format_time(int64_t time_ms, char out[25])
{
	time_t secs = (time_t)(time_ms / 1000);
	struct tm tm;
	char tmp[64];
	gmtime_r(&secs, &tm);
	/* Through a larger buffer: the compiler cannot know tm's ranges. */
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	         tm.tm_sec, (int)(time_ms % 1000));
	snprintf(out, 25, "%.24s", tmp);
}

/* A login uid or session id as written: 0 to 4294967294, or -1 (unset). */
static long long id_or_unset(int64_t v)
{
	return v >= 0 && v < 4294967295LL ? (long long)v : LFS_AUDIT_UNSET;
}

int lfs_audit_format_line(char *buf, const struct lfs_audit_record *rec,
                          const uint8_t prev[LFS_AUDIT_HASH_LEN], const uint8_t *key)
{
	if (!lfs_audit_name_valid(rec->event, false) || !lfs_audit_name_valid(rec->outcome, false))
		return -EINVAL;
	if (rec->ndetails > LFS_AUDIT_MAX_DETAILS || (rec->ndetails && !rec->details) ||
	    rec->seq == 0 || rec->time_ms < 0)
		return -EINVAL;
	for (size_t i = 0; i < rec->ndetails; i++) {
		if (!lfs_audit_name_valid(rec->details[i].key, true))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(rec->details[i].key, rec->details[j].key))
				return -EINVAL;
	}
	struct out o = {.buf = buf, .cap = LFS_AUDIT_LINE_MAX};
	char when[25];
	lfs_audit_format_time(rec->time_ms, when);
	putf(&o, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"event\":\"%s\",\"outcome\":\"%s\"",
	     rec->seq, when, rec->event, rec->outcome);
	if (rec->caller && rec->caller->known) {
		putf(&o, ",\"uid\":%lu,\"pid\":%ld,\"exe\":", (unsigned long)rec->caller->uid,
		     (long)rec->caller->pid);
		put_str(&o, rec->caller->exe, LFS_AUDIT_EXE_MAX);
		putf(&o, ",\"loginuid\":%lld,\"sessionid\":%lld",
		     id_or_unset(rec->caller->loginuid), id_or_unset(rec->caller->sessionid));
	}
	puts_(&o, ",\"details\":{");
	for (size_t i = 0; i < rec->ndetails; i++) {
		const struct lfs_audit_detail *d = &rec->details[i];
		putf(&o, "%s\"%s\":", i ? "," : "", d->key);
		if (d->str)
			put_str(&o, d->str, LFS_AUDIT_STR_MAX);
		else
			putf(&o, "%lld", d->num);
	}
	puts_(&o, "},\"prev\":\"");
	put_hex(&o, prev, LFS_AUDIT_HASH_LEN);
	put(&o, "\"", 1);
	if (key) {
		uint8_t mac[LFS_AUDIT_HASH_LEN];
		if (o.overflow)
			return -E2BIG;
		lfs_audit_line_mac(mac, key, o.buf, o.len);
		puts_(&o, ",\"mac\":\"");
		put_hex(&o, mac, sizeof(mac));
		put(&o, "\"", 1);
	}
	put(&o, "}\n", 2);
	/* Unreachable with the caps above; kept as a guard. */
	if (o.overflow)
		return -E2BIG;
	buf[o.len] = '\0';
	return (int)o.len;
}

/* {"seq":K,"hash":"<hex>" -- the start of a head file, and the bytes an
 * anchor's MAC covers. */
static void put_seq_hash(struct out *o, uint64_t seq, const uint8_t hash[LFS_AUDIT_HASH_LEN])
{
	putf(o, "{\"seq\":%" PRIu64 ",\"hash\":\"", seq);
	put_hex(o, hash, LFS_AUDIT_HASH_LEN);
	put(o, "\"", 1);
}

int lfs_audit_format_head(char *buf, size_t buflen, const struct lfs_audit_head *h)
{
	struct out o = {.buf = buf, .cap = buflen};
	put_seq_hash(&o, h->seq, h->hash);
	if (h->has_anchor) {
		putf(&o, ",\"keyed_seq\":%" PRIu64 ",\"keyed_hash\":\"", h->keyed_seq);
		put_hex(&o, h->keyed_hash, LFS_AUDIT_HASH_LEN);
		puts_(&o, "\",\"keyed_mac\":\"");
		put_hex(&o, h->keyed_mac, LFS_AUDIT_HASH_LEN);
		put(&o, "\"", 1);
	}
	put(&o, "}\n", 2);
	return o.overflow ? -ENOSPC : (int)o.len;
}

void lfs_audit_anchor_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], uint64_t seq,
                          const uint8_t hash[LFS_AUDIT_HASH_LEN])
{
	char text[128];
	struct out o = {.buf = text, .cap = sizeof(text)};
	put_seq_hash(&o, seq, hash);
	lfs_audit_head_mac(out, key, text, o.len);
}

void lfs_audit_set_anchor(struct lfs_audit_head *h, const uint8_t key[32], uint64_t seq,
                          const uint8_t hash[LFS_AUDIT_HASH_LEN])
{
	h->has_anchor = true;
	h->legacy = false;
	h->keyed_seq = seq;
	memcpy(h->keyed_hash, hash, LFS_AUDIT_HASH_LEN);
	lfs_audit_anchor_mac(h->keyed_mac, key, seq, hash);
}

bool lfs_audit_anchor_ok(const uint8_t key[32], const struct lfs_audit_head *h)
{
	uint8_t want[LFS_AUDIT_HASH_LEN];
	if (!h->has_anchor)
		return false;
	lfs_audit_anchor_mac(want, key, h->keyed_seq, h->keyed_hash);
	return sodium_memcmp(want, h->keyed_mac, sizeof(want)) == 0;
}

/* ---- hashes ------------------------------------------------------------ */

static void blake2b(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t *key, const void *in, size_t len,
                    const uint8_t personal[16])
{
	crypto_generichash_blake2b_salt_personal(out, LFS_AUDIT_HASH_LEN, in, len, key,
	                                         key ? 32 : 0, NULL, personal);
}

void lfs_audit_line_hash(uint8_t out[LFS_AUDIT_HASH_LEN], const char *line, size_t len)
{
	crypto_generichash(out, LFS_AUDIT_HASH_LEN, (const uint8_t *)line, len, NULL, 0);
}

void lfs_audit_genesis(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t uuid[16])
{
	blake2b(out, NULL, uuid, 16, PERSONAL_GENESIS);
}

void lfs_audit_line_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], const char *bytes,
                        size_t len)
{
	blake2b(out, key, bytes, len, PERSONAL_LINE_MAC);
}

void lfs_audit_head_mac(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t key[32], const char *bytes,
                        size_t len)
{
	blake2b(out, key, bytes, len, PERSONAL_HEAD_MAC);
}

bool lfs_audit_mac_ok(const uint8_t key[32], const char *line, const struct lfs_audit_entry *e)
{
	uint8_t want[LFS_AUDIT_HASH_LEN];
	if (!e->has_mac)
		return false;
	lfs_audit_line_mac(want, key, line, e->signed_len);
	return sodium_memcmp(want, e->mac, sizeof(want)) == 0;
}
