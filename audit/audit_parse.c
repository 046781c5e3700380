/* SPDX-License-Identifier: Apache-2.0 */
/* The strict parser of audit lines and of the head file (audit_line.h):
 * it accepts only the shape audit_line.c writes. */
#define _GNU_SOURCE
#include "audit_line.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <time.h>

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

/* A login uid or session id: 0 to 4294967294, or -1 for "unset". */
static bool login_id(struct in *c, int64_t *out)
{
	long long v;
	if (!int_(c, &v))
		return false;
	if (v < LFS_AUDIT_UNSET || v >= 4294967295LL)
		return fail(c, "login id out of range");
	*out = v;
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

int lfs_audit_parse_line(const char *line, size_t len, struct lfs_audit_entry *e, const char **why)
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
		ok = ok && lit(&c, ",\"exe\":", "exe expected") &&
		     str(&c, LFS_AUDIT_EXE_MAX, &e->exe);
		/* Lines written before login ids were recorded end the caller here. */
		if (ok && peek(&c, ",\"loginuid\":")) {
			e->has_login = true;
			ok = lit(&c, ",\"loginuid\":", "") && login_id(&c, &e->loginuid) &&
			     lit(&c, ",\"sessionid\":", "sessionid expected") &&
			     login_id(&c, &e->sessionid);
		}
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
	if (ok && peek(&c, ",\"mac\":")) {
		/* The older keyed head: its MAC covers exactly what an anchor's
		 * covers, so it is the anchor of entry seq. */
		h->has_anchor = h->legacy = true;
		h->keyed_seq = h->seq;
		memcpy(h->keyed_hash, h->hash, sizeof(h->hash));
		ok = lit(&c, ",\"mac\":", "") && hash_(&c, h->keyed_mac);
	} else if (ok && peek(&c, ",\"keyed_seq\":")) {
		h->has_anchor = true;
		ok = lit(&c, ",\"keyed_seq\":", "") && uint_(&c, UINT64_MAX, &h->keyed_seq) &&
		     h->keyed_seq > 0 && h->keyed_seq <= h->seq &&
		     lit(&c, ",\"keyed_hash\":", "") && hash_(&c, h->keyed_hash) &&
		     lit(&c, ",\"keyed_mac\":", "") && hash_(&c, h->keyed_mac);
	}
	ok = ok && lit(&c, "}\n", "") && c.pos == len;
	/* An anchor naming the head's own entry must name it by its hash. */
	if (ok && h->keyed_seq == h->seq && memcmp(h->keyed_hash, h->hash, sizeof(h->hash)))
		ok = false;
	return ok ? 0 : -EBADMSG;
}
