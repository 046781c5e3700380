#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

enum {
	SEEN_FORMAT = 1u << 0,
	SEEN_UUID = 1u << 1,
	SEEN_CIPHER = 1u << 2,
	SEEN_CREATED = 1u << 3,
	SEEN_REQUIRED = SEEN_FORMAT | SEEN_UUID | SEEN_CIPHER | SEEN_CREATED,
};

struct parse_state {
	struct lfs_vault_config *cfg;
	char *err;
	size_t errlen;
	int failed;
	int line;
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
			if (!close || n != 5 || strncmp(p + 1, "vault", 5) != 0) {
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

static unsigned key_bit(const char *name)
{
	static const struct {
		const char *name;
		unsigned bit;
	} keys[] = {{"format", SEEN_FORMAT},
		    {"uuid", SEEN_UUID},
		    {"cipher", SEEN_CIPHER},
		    {"created", SEEN_CREATED}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(name, keys[i].name) == 0)
			return keys[i].bit;
	return 0;
}

static int parse_vault_key(struct parse_state *ps, const char *name, const char *value)
{
	struct lfs_vault_config *cfg = ps->cfg;
	unsigned bit = key_bit(name);
	if (!bit)
		return fail(ps, "unknown key '%s' in section [%s]", name, "vault");
	if (cfg->seen & bit)
		return fail(ps, "key '%s' appears twice in section [%s]", name, "vault");
	cfg->seen |= bit;
	switch (bit) {
	case SEEN_FORMAT:
		if (strcmp(value, "1") != 0)
			return fail(ps, "unsupported format '%s' (this lethefs reads format 1)%s",
				    value, "");
		cfg->format = 1;
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
	default:
		if (!timestamp_valid(value))
			return fail(ps, "created '%s' is not a UTC time like 2026-01-31T23:59:59Z%s",
				    value, "");
		strcpy(cfg->created, value);
	}
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	if (ps->failed)
		return 0;
	if (strcmp(section, "vault") == 0)
		return parse_vault_key(ps, name, value);
	return fail(ps, "unknown section [%s]%s", section, "");
}

int lfs_config_parse(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
		     size_t errlen)
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

	if (check_sections(copy, err, errlen) < 0) {
		free(copy);
		return -EINVAL;
	}
	char reason[256] = "";
	struct parse_state ps = {.cfg = cfg, .err = reason, .errlen = sizeof(reason)};
	int line = ini_parse_string(copy, handler, &ps);
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
	return 0;
}

int lfs_config_format(const struct lfs_vault_config *cfg, char *buf, size_t buflen)
{
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), cfg->uuid, 16);
	int n = snprintf(buf, buflen,
			 "# lethefs vault configuration. The [vault] keys are fixed at creation;\n"
			 "# editing them makes the vault refuse to open.\n"
			 "[vault]\n"
			 "format = %d\n"
			 "uuid = %s\n"
			 "cipher = %s\n"
			 "created = %s\n",
			 cfg->format, hex, lfs_cipher_name(cfg->cipher), cfg->created);
	if (n < 0 || (size_t)n >= buflen)
		return -ENOSPC;
	return n;
}
