/* SPDX-License-Identifier: Apache-2.0 */
#include "ctlproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_len(const char *s, size_t *out)
{
	size_t n = 0;
	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		n = n * 10 + (size_t)(*s - '0');
		if (n > LFS_CTL_PAYLOAD_MAX)
			return -EINVAL;
	}
	*out = n;
	return 0;
}

/* Exactly 8 lowercase hex digits with the top bit set (a staging id). */
static int parse_id(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	size_t i = 0;
	for (; i < 8 && s[i]; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		                                    : 16;
		if (d == 16)
			return -EINVAL;
		v = v << 4 | d;
	}
	if (i != 8 || s[8] || !(v & 0x80000000u))
		return -EINVAL;
	*out = v;
	return 0;
}

/* Decimal seconds, no sign, no leading zero, at most 10 digits (about
 * 317 years: any TTL policy caps far below). */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int lfs_ctl_parse_request(const char *line, size_t len, struct lfs_ctl_request *req)
{
	memset(req, 0, sizeof(*req));
	if (len < 2 || len > LFS_CTL_HEADER_MAX || line[len - 1] != '\n' ||
	    memchr(line, '\0', len) || memchr(line, '\n', len - 1))
		return -EINVAL;
	char buf[LFS_CTL_HEADER_MAX];
	memcpy(buf, line, len - 1);
	buf[len - 1] = '\0';
	/* Exactly single spaces between words: no tolerance for variants
	 * means no two parsers can disagree. */
	char *words[6];
	int n = 0;
	for (char *p = buf;;) {
		if (n == 6 || *p == ' ' || *p == '\0')
			return -EINVAL;
		words[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	if (n < 3 || strcmp(words[0], LFS_CTL_MAGIC) != 0 || strcmp(words[1], "1") != 0)
		return -EINVAL;
	const char *verb = words[2];
	if (strcmp(verb, "status") == 0 && n == 3) {
		req->verb = LFS_CTL_STATUS;
	} else if (strcmp(verb, "rotate") == 0 && n == 3) {
		req->verb = LFS_CTL_ROTATE;
	} else if (strcmp(verb, "lock") == 0 && n == 3) {
		req->verb = LFS_CTL_LOCK;
	} else if (strcmp(verb, "lock") == 0 && n == 4 && strcmp(words[3], "force") == 0) {
		req->verb = LFS_CTL_LOCK;
		req->force = true;
	} else if (strcmp(verb, "stage-sync") == 0 && n == 3) {
		req->verb = LFS_CTL_STAGE_SYNC;
	} else if (strcmp(verb, "stage-ttl") == 0 && n == 5) {
		req->verb = LFS_CTL_STAGE_TTL;
		if (parse_id(words[3], &req->stage_id) < 0 ||
		    parse_u64(words[4], &req->seconds) < 0)
			return -EINVAL;
	} else if (strcmp(verb, "unlock") == 0 && n == 5) {
		req->verb = LFS_CTL_UNLOCK;
		if (strcmp(words[3], "secret") == 0)
			req->kind = LFS_CTL_SECRET;
		else if (strcmp(words[3], "master") == 0)
			req->kind = LFS_CTL_MASTER;
		else
			return -EINVAL;
		if (parse_len(words[4], &req->payload_len) < 0 || req->payload_len == 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

int lfs_ctl_format_request(const struct lfs_ctl_request *req, char *out, size_t outlen)
{
	int n = -1;
	switch (req->verb) {
	case LFS_CTL_STATUS:
		n = snprintf(out, outlen, "%s %d status\n", LFS_CTL_MAGIC, LFS_CTL_VERSION);
		break;
	case LFS_CTL_LOCK:
		n = snprintf(out, outlen, "%s %d lock%s\n", LFS_CTL_MAGIC, LFS_CTL_VERSION,
		             req->force ? " force" : "");
		break;
	case LFS_CTL_UNLOCK:
		n = snprintf(out, outlen, "%s %d unlock %s %zu\n", LFS_CTL_MAGIC, LFS_CTL_VERSION,
		             req->kind == LFS_CTL_MASTER ? "master" : "secret", req->payload_len);
		break;
	case LFS_CTL_ROTATE:
		n = snprintf(out, outlen, "%s %d rotate\n", LFS_CTL_MAGIC, LFS_CTL_VERSION);
		break;
	case LFS_CTL_STAGE_SYNC:
		n = snprintf(out, outlen, "%s %d stage-sync\n", LFS_CTL_MAGIC, LFS_CTL_VERSION);
		break;
	case LFS_CTL_STAGE_TTL:
		n = snprintf(out, outlen, "%s %d stage-ttl %08x %llu\n", LFS_CTL_MAGIC,
		             LFS_CTL_VERSION, (unsigned)req->stage_id,
		             (unsigned long long)req->seconds);
		break;
	}
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* Length of the UTF-8 sequence starting at s (at most left bytes), or 0
 * when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int lfs_json_put_string(char *out, size_t outlen, size_t *used, const char *s)
{
	size_t u = *used;
	size_t left = strlen(s);
#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (u + 1 >= outlen)                                                               \
			return -1;                                                                 \
		out[u++] = (c);                                                                    \
	} while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p, left);
		if (n == 1 && *p >= 0x20 && *p != '"' && *p != '\\') {
			PUT((char)*p);
		} else if (n == 1 && (*p == '"' || *p == '\\')) {
			PUT('\\');
			PUT((char)*p);
		} else if (n > 1) {
			for (size_t i = 0; i < n; i++)
				PUT((char)p[i]);
		} else {
			/* A control character, or a byte that is not UTF-8:
			 * \u00XX keeps the line valid JSON and the byte visible. */
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			for (int i = 0; i < 6; i++)
				PUT(esc[i]);
			n = 1;
		}
		p += n;
		left -= n;
	}
	PUT('"');
#undef PUT
	out[u] = '\0';
	*used = u;
	return 0;
}

/* Reads a JSON string starting after its opening quote. Writes the
 * unescaped value to out (if not NULL) and returns the index after the
 * closing quote, or -1. */
static long read_string(const char *j, size_t len, size_t i, char *out, size_t outlen)
{
	size_t o = 0;
	while (i < len && j[i] != '"') {
		char c = j[i++];
		if ((unsigned char)c < 0x20)
			return -1;
		if (c == '\\') {
			if (i >= len)
				return -1;
			char e = j[i++];
			switch (e) {
			case '"':
			case '\\':
			case '/':
				c = e;
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				if (len - i < 4)
					return -1;
				unsigned v = 0;
				for (int k = 0; k < 4; k++) {
					char h = j[i++];
					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return -1;
				}
				/* The daemon only escapes single bytes this way. */
				if (v > 0xff)
					return -1;
				c = (char)v;
				break;
			}
			default:
				return -1;
			}
		}
		if (out) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = c;
		}
	}
	if (i >= len)
		return -1;
	if (out)
		out[o] = '\0';
	return (long)i + 1;
}

static size_t skip_ws(const char *j, size_t len, size_t i)
{
	while (i < len && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r'))
		i++;
	return i;
}

/* Returns the index after the object that starts at j[i] ('{'), objects
 * and arrays inside it included, or -1 when it does not end. Counts depth
 * instead of recursing, so that no input can exhaust the stack. */
static long skip_object(const char *j, size_t len, size_t i)
{
	size_t depth = 0;
	while (i < len) {
		char c = j[i++];
		if (c == '"') {
			long next = read_string(j, len, i, NULL, 0);
			if (next < 0)
				return -1;
			i = (size_t)next;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return (long)i;
		}
	}
	return -1;
}

int lfs_json_get(const char *j, size_t len, const char *key, char *out, size_t outlen)
{
	size_t i = skip_ws(j, len, 0);
	if (i >= len || j[i++] != '{' || outlen == 0)
		return -EINVAL;
	int found = -ENOENT;
	i = skip_ws(j, len, i);
	if (i < len && j[i] == '}')
		return -ENOENT;
	char name[64];
	for (;;) {
		i = skip_ws(j, len, i);
		if (i >= len || j[i] != '"')
			return -EINVAL;
		long next = read_string(j, len, i + 1, name, sizeof(name));
		if (next < 0)
			return -EINVAL;
		i = skip_ws(j, len, (size_t)next);
		if (i >= len || j[i++] != ':')
			return -EINVAL;
		i = skip_ws(j, len, i);
		if (i >= len)
			return -EINVAL;
		bool want = found == -ENOENT && strcmp(name, key) == 0;
		if (j[i] == '{') {
			/* A nested object (status: fuse_requests), kept as its text. */
			long end = skip_object(j, len, i);
			if (end < 0)
				return -EINVAL;
			if (want) {
				if ((size_t)end - i >= outlen)
					return -EINVAL;
				memcpy(out, j + i, (size_t)end - i);
				out[(size_t)end - i] = '\0';
			}
			i = (size_t)end;
		} else if (j[i] == '"') {
			next = read_string(j, len, i + 1, want ? out : NULL, outlen);
			if (next < 0)
				return -EINVAL;
			i = (size_t)next;
		} else {
			/* A number, true, false or null: flat objects only. */
			size_t start = i;
			while (i < len && (j[i] == '-' || j[i] == '+' || j[i] == '.' ||
			                   (j[i] >= '0' && j[i] <= '9') ||
			                   (j[i] >= 'a' && j[i] <= 'z') || j[i] == 'E'))
				i++;
			if (i == start)
				return -EINVAL;
			if (want) {
				if (i - start >= outlen)
					return -EINVAL;
				memcpy(out, j + start, i - start);
				out[i - start] = '\0';
			}
		}
		if (want)
			found = 0;
		i = skip_ws(j, len, i);
		if (i < len && j[i] == ',') {
			i++;
			continue;
		}
		if (i < len && j[i] == '}')
			return found;
		return -EINVAL;
	}
}
