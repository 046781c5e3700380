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

int lfs_audit_format_head(char *buf, size_t buflen, uint64_t seq,
			  const uint8_t hash[LFS_AUDIT_HASH_LEN], const uint8_t *key)
{
	struct out o = {.buf = buf, .cap = buflen};
	putf(&o, "{\"seq\":%" PRIu64 ",\"hash\":\"", seq);
	put_hex(&o, hash, LFS_AUDIT_HASH_LEN);
	put(&o, "\"", 1);
	if (key && !o.overflow) {
		uint8_t mac[LFS_AUDIT_HASH_LEN];
		lfs_audit_head_mac(mac, key, o.buf, o.len);
		puts_(&o, ",\"mac\":\"");
		put_hex(&o, mac, sizeof(mac));
		put(&o, "\"", 1);
	}
	put(&o, "}\n", 2);
	return o.overflow ? -ENOSPC : (int)o.len;
}

/* ---- hashes ------------------------------------------------------------ */

static void blake2b(uint8_t out[LFS_AUDIT_HASH_LEN], const uint8_t *key, const void *in,
		    size_t len, const uint8_t personal[16])
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

/* ---- parsing ----------------------------------------------------------- */

/* A cursor over one line. Every helper either consumes exactly the shape
 * lethefs writes or fails with a reason; there is no whitespace, no
 * optional member out of place, no member order but the written one. */
struct in {
	const char *s;
	size_t len, pos;
	const char *why;
};

static bool fail(struct in *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return false;
}

static bool lit(struct in *c, const char *s, const char *why)
{
	size_t n = strlen(s);
	if (c->len - c->pos < n || memcmp(c->s + c->pos, s, n) != 0)
		return fail(c, why);
	c->pos += n;
	return true;
}

static bool peek(const struct in *c, const char *s)
{
	size_t n = strlen(s);
	return c->len - c->pos >= n && memcmp(c->s + c->pos, s, n) == 0;
}

/* Unsigned decimal without sign or leading zeros. */
static bool uint_(struct in *c, uint64_t max, uint64_t *out)
{
	size_t start = c->pos;
	uint64_t v = 0;
	while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		unsigned d = (unsigned)(c->s[c->pos] - '0');
		if (v > (max - d) / 10)
			return fail(c, "number out of range");
		v = v * 10 + d;
		c->pos++;
	}
	if (c->pos == start)
		return fail(c, "number expected");
	if (c->s[start] == '0' && c->pos - start > 1)
		return fail(c, "number with a leading zero");
	*out = v;
	return true;
}

static bool int_(struct in *c, long long *out)
{
	bool neg = c->pos < c->len && c->s[c->pos] == '-';
	uint64_t v;
	if (neg)
		c->pos++;
	if (!uint_(c, neg ? (uint64_t)LLONG_MAX + 1 : (uint64_t)LLONG_MAX, &v))
		return false;
	if (neg && v == 0)
		return fail(c, "negative zero");
	*out = neg ? (v == (uint64_t)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v) : (long long)v;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* \uXXXX with lowercase hex, as the writer emits it. */
static bool u_escape(struct in *c, unsigned *v)
{
	*v = 0;
	if (c->len - c->pos < 6 || c->s[c->pos + 1] != 'u')
		return fail(c, "bad escape in string");
	for (size_t i = 2; i < 6; i++) {
		int h = hexval(c->s[c->pos + i]);
		if (h < 0)
			return fail(c, "bad \\u escape in string");
		*v = (*v << 4) | (unsigned)h;
	}
	c->pos += 6;
	return true;
}

/* A string in the writer's canonical escaping; the span is its escaped
 * text between the quotes (printable ASCII). */
static bool str(struct in *c, size_t max, struct lfs_audit_span *sp)
{
	if (!lit(c, "\"", "string expected"))
		return false;
	size_t start = c->pos;
	for (;;) {
		if (c->pos >= c->len)
			return fail(c, "unterminated string");
		unsigned char ch = (unsigned char)c->s[c->pos];
		if (ch == '"')
			break;
		if (ch < 0x20 || ch >= 0x7f)
			return fail(c, "raw control or non-ASCII byte in string");
		if (ch != '\\') {
			c->pos++;
			continue;
		}
		char e = c->pos + 1 < c->len ? c->s[c->pos + 1] : '\0';
		if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't') {
			c->pos += 2;
			continue;
		}
		unsigned v, lo;
		if (!u_escape(c, &v))
			return false;
		if (v >= 0xdc00 && v <= 0xdfff)
			return fail(c, "lone low surrogate in string");
		if (v >= 0xd800 && v <= 0xdbff) {
			if (!u_escape(c, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return fail(c, "high surrogate without a low one");
			continue;
		}
		/* Only what the writer escapes may be escaped. */
		if ((v >= 0x20 && v < 0x7f) || v == '\n' || v == '\r' || v == '\t')
			return fail(c, "needless \\u escape in string");
	}
	size_t n = c->pos - start;
	c->pos++;
	if (n > max)
		return fail(c, "string too long");
	sp->off = (uint32_t)start;
	sp->len = (uint32_t)n;
	return true;
}

static bool name(struct in *c, bool is_key, struct lfs_audit_span *sp)
{
	char tmp[LFS_AUDIT_NAME_MAX + 1];
	if (!str(c, LFS_AUDIT_NAME_MAX, sp))
		return false;
	memcpy(tmp, c->s + sp->off, sp->len);
	tmp[sp->len] = '\0';
	if (!lfs_audit_name_valid(tmp, is_key))
		return fail(c, is_key ? "bad detail key" : "bad event or outcome name");
	return true;
}

static bool hash_(struct in *c, uint8_t out[LFS_AUDIT_HASH_LEN])
{
	if (!lit(c, "\"", "hash expected") || c->len - c->pos < 2 * LFS_AUDIT_HASH_LEN + 1)
		return fail(c, "hash expected");
	for (size_t i = 0; i < LFS_AUDIT_HASH_LEN; i++) {
		int hi = hexval(c->s[c->pos + 2 * i]), lo = hexval(c->s[c->pos + 2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(c, "hash is not 64 lowercase hex digits");
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	c->pos += 2 * LFS_AUDIT_HASH_LEN;
	return lit(c, "\"", "hash is not 64 lowercase hex digits");
}

static int two(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ", converted to Unix milliseconds. */
static bool time_(struct in *c, struct lfs_audit_span *sp, int64_t *ms)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (!str(c, sizeof(shape) - 1, sp) || sp->len != sizeof(shape) - 1)
		return fail(c, "bad time");
	const char *t = c->s + sp->off;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != shape[i])
			return fail(c, "bad time");
	struct tm tm = {
		.tm_year = two(t) * 100 + two(t + 2) - 1900,
		.tm_mon = two(t + 5) - 1,
		.tm_mday = two(t + 8),
		.tm_hour = two(t + 11),
		.tm_min = two(t + 14),
		.tm_sec = two(t + 17),
	};
	if (tm.tm_year < 70 || tm.tm_mon > 11 || tm.tm_mon < 0 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return fail(c, "bad time");
	time_t secs = timegm(&tm);
	*ms = (int64_t)secs * 1000 + (t[20] - '0') * 100 + (t[21] - '0') * 10 + (t[22] - '0');
	return true;
}

static bool details(struct in *c, struct lfs_audit_entry *e)
{
	if (!lit(c, ",\"details\":{", "details expected"))
		return false;
	if (peek(c, "}")) {
		c->pos++;
		return true;
	}
	for (;;) {
		if (e->ndetails == LFS_AUDIT_MAX_DETAILS)
			return fail(c, "too many details");
		unsigned i = e->ndetails++;
		if (!name(c, true, &e->detail[i].key) || !lit(c, ":", "':' expected"))
			return false;
		for (unsigned j = 0; j < i; j++)
			if (e->detail[j].key.len == e->detail[i].key.len &&
			    !memcmp(c->s + e->detail[j].key.off, c->s + e->detail[i].key.off,
				    e->detail[i].key.len))
				return fail(c, "duplicate detail key");
		if (peek(c, "\"")) {
			e->detail[i].is_str = true;
			if (!str(c, LFS_AUDIT_STR_MAX, &e->detail[i].str))
				return false;
		} else if (!int_(c, &e->detail[i].num)) {
			return false;
		}
		if (peek(c, "}")) {
			c->pos++;
			return true;
		}
		if (!lit(c, ",", "',' or '}' expected in details"))
			return false;
	}
}

int lfs_audit_parse_line(const char *line, size_t len, struct lfs_audit_entry *e,
			 const char **why)
{
	struct in c = {.s = line, .len = len};
	uint64_t v = 0;
	memset(e, 0, sizeof(*e));
	bool ok = len < LFS_AUDIT_LINE_MAX && lit(&c, "{\"seq\":", "not an audit entry") &&
		  uint_(&c, UINT64_MAX, &e->seq);
	if (ok && e->seq == 0)
		ok = fail(&c, "seq 0");
	ok = ok && lit(&c, ",\"time\":", "time expected") && time_(&c, &e->time, &e->time_ms) &&
	     lit(&c, ",\"event\":", "event expected") && name(&c, false, &e->event) &&
	     lit(&c, ",\"outcome\":", "outcome expected") && name(&c, false, &e->outcome);
	if (ok && peek(&c, ",\"uid\":")) {
		e->has_caller = true;
		ok = lit(&c, ",\"uid\":", "") && uint_(&c, UINT32_MAX, &v);
		e->uid = (uint32_t)v;
		ok = ok && lit(&c, ",\"pid\":", "pid expected") && uint_(&c, INT32_MAX, &v);
		e->pid = (uint32_t)v;
		ok = ok && lit(&c, ",\"exe\":", "exe expected") && str(&c, LFS_AUDIT_EXE_MAX, &e->exe);
	}
	ok = ok && details(&c, e) && lit(&c, ",\"prev\":", "prev expected") && hash_(&c, e->prev);
	e->signed_len = c.pos;
	if (ok && peek(&c, ",\"mac\":")) {
		e->has_mac = true;
		ok = lit(&c, ",\"mac\":", "") && hash_(&c, e->mac);
	}
	ok = ok && lit(&c, "}", "'}' expected at the end");
	if (ok && c.pos != len)
		ok = fail(&c, "bytes after the entry");
	if (ok && len >= LFS_AUDIT_LINE_MAX)
		ok = fail(&c, "line too long");
	if (!ok) {
		if (why)
			*why = c.why ? c.why : "line too long";
		return -EBADMSG;
	}
	return 0;
}

int lfs_audit_parse_head(const char *text, size_t len, struct lfs_audit_head *h)
{
	struct in c = {.s = text, .len = len};
	memset(h, 0, sizeof(*h));
	bool ok = len <= LFS_AUDIT_HEAD_MAX && lit(&c, "{\"seq\":", "") &&
		  uint_(&c, UINT64_MAX, &h->seq) && h->seq > 0 && lit(&c, ",\"hash\":", "") &&
		  hash_(&c, h->hash);
	h->signed_len = c.pos;
	if (ok && peek(&c, ",\"mac\":")) {
		h->has_mac = true;
		ok = lit(&c, ",\"mac\":", "") && hash_(&c, h->mac);
	}
	ok = ok && lit(&c, "}\n", "") && c.pos == len;
	return ok ? 0 : -EBADMSG;
}
