/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "../common/duration.h"

#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

enum {
	SEEN_FORMAT = 1u << 0,
	SEEN_UUID = 1u << 1,
	SEEN_CIPHER = 1u << 2,
	SEEN_CREATED = 1u << 3,
	SEEN_REQUIRED = SEEN_FORMAT | SEEN_UUID | SEEN_CIPHER | SEEN_CREATED,
	SEEN_ADMIN_GROUP = 1u << 4,
	SEEN_CONTROL_SOCKET = 1u << 5,
	SEEN_IDLE_LOCK = 1u << 6,
	SEEN_AUDIT_LOG = 1u << 7,
	SEEN_STAGING_ROOT = 1u << 8,
	SEEN_STAGING_TTL = 1u << 9,
	SEEN_STAGING_EXTEND = 1u << 10,
	SEEN_STAGING_MAX_TTL = 1u << 11,
	SEEN_STAGING_SHORTEN = 1u << 12,
	SEEN_STAGING_PER_USER = 1u << 13,
};

/* Every key lethefs knows, by section. */
static const struct {
	const char *section;
	const char *name;
	unsigned bit;
} known_keys[] = {
    {"vault", "format", SEEN_FORMAT},
    {"vault", "uuid", SEEN_UUID},
    {"vault", "cipher", SEEN_CIPHER},
    {"vault", "created", SEEN_CREATED},
    {"access", "admin_group", SEEN_ADMIN_GROUP},
    {"access", "control_socket", SEEN_CONTROL_SOCKET},
    {"access", "idle_lock", SEEN_IDLE_LOCK},
    {"audit", "log", SEEN_AUDIT_LOG},
    {"staging", "staging_root", SEEN_STAGING_ROOT},
    {"staging", "staging_default_ttl", SEEN_STAGING_TTL},
    {"staging", "staging_allow_extend", SEEN_STAGING_EXTEND},
    {"staging", "staging_max_ttl", SEEN_STAGING_MAX_TTL},
    {"staging", "owner_may_shorten", SEEN_STAGING_SHORTEN},
    {"staging", "staging_max_per_user", SEEN_STAGING_PER_USER},
};

static int section_known(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strlen(known_keys[i].section) == len &&
		    strncmp(known_keys[i].section, name, len) == 0)
			return 1;
	return 0;
}

struct parse_state {
	struct lfs_vault_config *cfg;
	char *err;
	size_t errlen;
	int failed;
	bool staging_only; /* skip (and note) errors outside [vault] and [staging] */
};

static int fail(struct parse_state *ps, const char *fmt, const char *a, const char *b)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, fmt, a, b);
	ps->failed = 1;
	return 0;
}

static int parse_uuid(const char *v, uint8_t out[16])
{
	size_t got;
	const char *end;
	if (strlen(v) != 32)
		return -1;
	if (sodium_hex2bin(out, 16, v, 32, NULL, &got, &end) != 0 || got != 16 || *end)
		return -1;
	return 0;
}

/* Exactly the form lethefs writes: YYYY-MM-DDTHH:MM:SSZ. */
static int timestamp_valid(const char *v)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(v) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (v[i] < '0' || v[i] > '9') : v[i] != shape[i])
			return 0;
	}
	return 1;
}

/* inih reports keys, not sections: a section with no keys would pass
 * unseen. Every section header must name a known section. */
static int check_sections(const char *text, char *err, size_t errlen)
{
	int line = 0;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		line++;
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		if (len && *p == '[') {
			const char *close = memchr(p, ']', len);
			size_t n = close ? (size_t)(close - p - 1) : 0;
			if (!close || !section_known(p + 1, n)) {
				snprintf(err, errlen, "line %d: unknown section %.*s", line,
				         (int)(len > 64 ? 64 : len), p);
				return -EINVAL;
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

static unsigned key_bit(const char *section, const char *name)
{
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(section, known_keys[i].section) == 0 &&
		    strcmp(name, known_keys[i].name) == 0)
			return known_keys[i].bit;
	return 0;
}

/* Group names as useradd accepts them, or a numeric gid. */
static int group_name_valid(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= 33 || v[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-' || v[i] == '.'))
			return 0;
	return 1;
}

static int copy_checked(char *dst, size_t dstlen, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= dstlen)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* "a/b/c": no leading '/', no empty, "." or ".." component. */
static int staging_root_valid(const char *v)
{
	if (!*v || v[0] == '/')
		return 0;
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    n > 255)
			return 0;
		p += n;
		if (*p == '/' && !*++p)
			return 0;
	}
	return 1;
}

/* yes/no, true/false, on/off, 1/0 (any case), as systemd reads them. */
static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
	                                                                            "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int parse_value(struct parse_state *ps, unsigned bit, const char *value)
{
	struct lfs_vault_config *cfg = ps->cfg;
	switch (bit) {
	case SEEN_FORMAT:
		if (strcmp(value, "1") != 0 && strcmp(value, "2") != 0)
			return fail(
			    ps, "unsupported format '%s' (this lethefs reads formats 1 and 2)%s",
			    value, "");
		cfg->format = value[0] - '0';
		break;
	case SEEN_UUID:
		if (parse_uuid(value, cfg->uuid) < 0)
			return fail(ps, "uuid '%s' is not 32 hex digits%s", value, "");
		break;
	case SEEN_CIPHER:
		if (lfs_cipher_from_name(value, &cfg->cipher) < 0)
			return fail(ps,
			            "unknown cipher '%s' (expected xchacha20poly1305 or "
			            "aes256gcm)%s",
			            value, "");
		break;
	case SEEN_CREATED:
		if (!timestamp_valid(value))
			return fail(ps,
			            "created '%s' is not a UTC time like 2026-01-31T23:59:59Z%s",
			            value, "");
		strcpy(cfg->created, value);
		break;
	case SEEN_ADMIN_GROUP:
		if (!group_name_valid(value))
			return fail(ps, "admin_group '%s' is not a group name or gid%s", value, "");
		strcpy(cfg->admin_group, value);
		break;
	case SEEN_CONTROL_SOCKET:
		/* sun_path holds 108 bytes including the NUL. */
		if (value[0] != '/' ||
		    copy_checked(cfg->control_socket, sizeof(cfg->control_socket), value) < 0)
			return fail(ps,
			            "control_socket '%s' must be an absolute path shorter "
			            "than 108 bytes%s",
			            value, "");
		break;
	case SEEN_IDLE_LOCK:
		if (lfs_parse_duration(value, &cfg->idle_lock_seconds) < 0)
			return fail(ps, "idle_lock '%s' is not a duration like 15m, 2h or off%s",
			            value, "");
		break;
	case SEEN_AUDIT_LOG:
		if (copy_checked(cfg->audit_log, sizeof(cfg->audit_log), value) < 0)
			return fail(ps, "audit log path '%s' is empty or longer than 255 bytes%s",
			            value, "");
		break;
	case SEEN_STAGING_ROOT:
		if (!staging_root_valid(value) ||
		    copy_checked(cfg->staging_root, sizeof(cfg->staging_root), value) < 0)
			return fail(ps,
			            "staging_root '%s' must be a relative path inside the "
			            "mount, without '.' or '..' components%s",
			            value, "");
		break;
	case SEEN_STAGING_TTL:
	case SEEN_STAGING_MAX_TTL: {
		uint64_t v;
		if (lfs_parse_duration(value, &v) < 0 || (bit == SEEN_STAGING_TTL && v == 0))
			return fail(ps, "'%s' is not a duration like 72h or 7d%s", value, "");
		*(bit == SEEN_STAGING_TTL ? &cfg->staging_default_ttl : &cfg->staging_max_ttl) = v;
		break;
	}
	case SEEN_STAGING_EXTEND:
		if (parse_bool(value, &cfg->staging_allow_extend) < 0)
			return fail(ps,
			            "staging_allow_extend '%s' must be yes or no (or true/false, "
			            "on/off, 1/0)%s",
			            value, "");
		break;
	case SEEN_STAGING_SHORTEN:
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return fail(ps, "owner_may_shorten '%s' must be yes or no%s", value, "");
		cfg->staging_owner_may_shorten = !strcmp(value, "yes");
		break;
	case SEEN_STAGING_PER_USER: {
		char *end;
		unsigned long v = strtoul(value, &end, 10);
		if (!*value || *end || value[0] == '-' || v > 100000)
			return fail(ps,
			            "staging_max_per_user '%s' is not a number of directories "
			            "(0 = no limit)%s",
			            value, "");
		cfg->staging_max_per_user = (unsigned)v;
		break;
	}
	}
	return 1;
}

/* "value  # comment" -> "value": a '#' after white space starts a comment,
 * as ';' does for inih. Returns -1 when the value does not fit. */
static int strip_comment(const char *value, char *out, size_t outlen)
{
	size_t n = strlen(value);
	for (size_t i = 1; i < n; i++)
		if (value[i] == '#' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
			n = i;
			break;
		}
	if (value[0] == '#')
		n = 0;
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		return -1;
	memcpy(out, value, n);
	out[n] = '\0';
	return 0;
}

static int parse_key(struct parse_state *ps, const char *section, const char *name,
                     const char *value)
{
	unsigned bit = key_bit(section, name);
	if (!bit)
		return fail(ps, "unknown key '%s' in section [%s]", name, section);
	if (ps->cfg->seen & bit)
		return fail(ps, "key '%s' appears twice in section [%s]", name, section);
	ps->cfg->seen |= bit;
	char plain[512];
	if (strip_comment(value, plain, sizeof(plain)) < 0)
		return fail(ps, "the value of '%s' in section [%s] is too long", name, section);
	return parse_value(ps, bit, plain);
}

/* Appends one skipped error ("; " between them) while there is room. */
static void note_skipped(struct lfs_vault_config *cfg, const char *section, const char *why)
{
	size_t used = strlen(cfg->skipped);
	if (used + 4 < sizeof(cfg->skipped))
		snprintf(cfg->skipped + used, sizeof(cfg->skipped) - used, "%s[%s] %s",
		         used ? "; " : "", section, why);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	if (ps->failed)
		return 0;
	if (ps->staging_only && strcmp(section, "vault") && strcmp(section, "staging")) {
		/* Parsed into a scratch copy: an error here is only noted. */
		char why[200] = "";
		struct lfs_vault_config scratch = *ps->cfg;
		struct parse_state sub = {.cfg = &scratch, .err = why, .errlen = sizeof(why)};
		int ok = section_known(section, strlen(section))
		             ? parse_key(&sub, section, name, value)
		             : fail(&sub, "unknown section [%s]%s", section, "");
		if (ok && !sub.failed)
			*ps->cfg = scratch;
		else
			note_skipped(ps->cfg, section, why);
		return 1;
	}
	if (!section_known(section, strlen(section)))
		return fail(ps, "unknown section [%s]%s", section, "");
	/* "key:;x" reads as the value ";x", but written back as "key = ;x"
	 * the ';' after a space starts a comment: such a value would not
	 * survive the next rewrite of the file (found by fuzz_config). */
	if (value[0] == ';' || value[0] == '#')
		return fail(ps, "the value of '%s' begins with a comment character%s", name, "");
	return parse_key(ps, section, name, value);
}

/* Whether line (1-based) of text lies in [vault], [staging] or before any
 * section header (where inih reports keys as section ""). */
static bool section_is_core(const char *text, int line)
{
	const char *sec = NULL;
	size_t seclen = 0;
	const char *p = text;
	for (int n = 1; *p && n < line; n++) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *q = p;
		while (q < p + len && (*q == ' ' || *q == '\t'))
			q++;
		const char *close =
		    q < p + len && *q == '[' ? memchr(q, ']', len - (size_t)(q - p)) : NULL;
		if (close) {
			sec = q + 1;
			seclen = (size_t)(close - q - 1);
		}
		p += len + (end != NULL);
	}
	return !sec || (seclen == 5 && !strncmp(sec, "vault", 5)) ||
	       (seclen == 7 && !strncmp(sec, "staging", 7));
}

static int parse(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
                 size_t errlen, bool staging_only)
{
	memset(cfg, 0, sizeof(*cfg));
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "configuration contains a NUL byte");
		return -EINVAL;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';

	/* Lenient: an unknown section's keys are noted one by one below. */
	if (!staging_only && check_sections(copy, err, errlen) < 0) {
		free(copy);
		return -EINVAL;
	}
	char reason[256] = "";
	struct parse_state ps = {
	    .cfg = cfg, .err = reason, .errlen = sizeof(reason), .staging_only = staging_only};
	int line = ini_parse_string(copy, handler, &ps);
	if (line > 0 && staging_only && !reason[0] && !section_is_core(copy, line)) {
		char why[32];
		snprintf(why, sizeof(why), "line %d: syntax error", line);
		note_skipped(cfg, "?", why);
		line = 0;
	}
	free(copy);
	if (line != 0) {
		if (!reason[0])
			snprintf(reason, sizeof(reason), "syntax error");
		snprintf(err, errlen, "line %d: %s", line < 0 ? 0 : line, reason);
		return -EINVAL;
	}
	if ((cfg->seen & SEEN_REQUIRED) != SEEN_REQUIRED) {
		const char *missing = !(cfg->seen & SEEN_FORMAT)   ? "format"
		                      : !(cfg->seen & SEEN_UUID)   ? "uuid"
		                      : !(cfg->seen & SEEN_CIPHER) ? "cipher"
		                                                   : "created";
		snprintf(err, errlen, "missing required key '%s' in section [vault]", missing);
		return -EINVAL;
	}
	if (!(cfg->seen & SEEN_STAGING_TTL))
		cfg->staging_default_ttl = LFS_STAGING_DEFAULT_TTL;
	if (!(cfg->seen & SEEN_STAGING_MAX_TTL))
		cfg->staging_max_ttl = LFS_STAGING_DEFAULT_MAX_TTL;
	if (!(cfg->seen & SEEN_STAGING_SHORTEN))
		cfg->staging_owner_may_shorten = 1;
	if (!(cfg->seen & SEEN_STAGING_PER_USER))
		cfg->staging_max_per_user = LFS_STAGING_DEFAULT_PER_USER;
	return 0;
}

int lfs_config_parse(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
                     size_t errlen)
{
	return parse(text, len, cfg, err, errlen, false);
}

int lfs_config_parse_staging(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
                             size_t errlen)
{
	return parse(text, len, cfg, err, errlen, true);
}

int lfs_config_format(const struct lfs_vault_config *cfg, char *buf, size_t buflen)
{
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), cfg->uuid, 16);
	int n = snprintf(buf, buflen,
	                 "# lethefs vault configuration. The [vault] keys are fixed at creation;\n"
	                 "# editing them makes the vault refuse to open. See lethefs.conf(5).\n"
	                 "[vault]\n"
	                 "format = %d\n"
	                 "uuid = %s\n"
	                 "cipher = %s\n"
	                 "created = %s\n",
	                 cfg->format, hex, lfs_cipher_name(cfg->cipher), cfg->created);
	if (n < 0 || (size_t)n >= buflen)
		return -ENOSPC;
	size_t used = (size_t)n;
	char idle[64] = "", sttl[64] = "", smax[64] = "", sper[16];
	if (cfg->seen & SEEN_IDLE_LOCK)
		lfs_format_duration(cfg->idle_lock_seconds, idle, sizeof(idle));
	lfs_format_duration(cfg->staging_default_ttl, sttl, sizeof(sttl));
	lfs_format_duration(cfg->staging_max_ttl, smax, sizeof(smax));
	snprintf(sper, sizeof(sper), "%u", cfg->staging_max_per_user);
	const struct {
		const char *section, *name, *value;
		unsigned bit;
	} optional[] = {
	    {"access", "admin_group", cfg->admin_group, SEEN_ADMIN_GROUP},
	    {"access", "control_socket", cfg->control_socket, SEEN_CONTROL_SOCKET},
	    {"access", "idle_lock", idle, SEEN_IDLE_LOCK},
	    {"audit", "log", cfg->audit_log, SEEN_AUDIT_LOG},
	    {"staging", "staging_root", cfg->staging_root, SEEN_STAGING_ROOT},
	    {"staging", "staging_default_ttl", sttl, SEEN_STAGING_TTL},
	    {"staging", "staging_allow_extend", cfg->staging_allow_extend ? "yes" : "no",
	     SEEN_STAGING_EXTEND},
	    {"staging", "staging_max_ttl", smax, SEEN_STAGING_MAX_TTL},
	    {"staging", "owner_may_shorten", cfg->staging_owner_may_shorten ? "yes" : "no",
	     SEEN_STAGING_SHORTEN},
	    {"staging", "staging_max_per_user", sper, SEEN_STAGING_PER_USER},
	};
	const char *section = "vault";
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		if (!(cfg->seen & optional[i].bit))
			continue;
		int w = snprintf(buf + used, buflen - used, "%s%s%s%s = %s\n",
		                 strcmp(section, optional[i].section) ? "[" : "",
		                 strcmp(section, optional[i].section) ? optional[i].section : "",
		                 strcmp(section, optional[i].section) ? "]\n" : "",
		                 optional[i].name, optional[i].value);
		if (w < 0 || (size_t)w >= buflen - used)
			return -ENOSPC;
		used += (size_t)w;
		section = optional[i].section;
	}
	return (int)used;
}

/* Whether line (n bytes, no newline) is "format = ..." (any blanks). */
static bool is_format_line(const char *line, size_t n)
{
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (n - i < 6 || strncmp(line + i, "format", 6) != 0)
		return false;
	i += 6;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && (line[i] == '=' || line[i] == ':');
}

int lfs_config_set_format(const char *text, size_t len, int format, char *out, size_t outlen)
{
	if (format < LFS_FORMAT_MIN || format > LFS_FORMAT_MAX)
		return -EINVAL;
	size_t o = 0, replaced = 0;
	bool in_vault = false;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		const char *line = text + i;
		size_t k = 0;
		while (k < n && (line[k] == ' ' || line[k] == '\t'))
			k++;
		if (k < n && line[k] == '[')
			in_vault = n - k >= 7 && strncmp(line + k, "[vault]", 7) == 0;
		char repl[16];
		if (in_vault && is_format_line(line, n)) {
			n = (size_t)snprintf(repl, sizeof(repl), "format = %d", format);
			line = repl;
			replaced++;
		}
		if (o + n + 1 > outlen)
			return -ENOSPC;
		memcpy(out + o, line, n);
		o += n;
		i += (nl ? (size_t)(nl - (text + i)) + 1 : len - i);
		if (nl)
			out[o++] = '\n';
	}
	/* The result must be a config of that format, the rest unchanged. */
	struct lfs_vault_config before, after;
	char why[256];
	if (replaced != 1 || lfs_config_parse(text, len, &before, why, sizeof(why)) < 0 ||
	    lfs_config_parse(out, o, &after, why, sizeof(why)) < 0 || after.format != format)
		return -EINVAL;
	after.format = before.format;
	if (memcmp(&before, &after, sizeof(before)) != 0)
		return -EINVAL;
	return (int)o;
}
