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

static int parse_vault_key(struct parse_state *ps, const char *name, const char *value)
{
	struct lfs_vault_config *cfg = ps->cfg;
	unsigned bit;
	if (strcmp(name, "format") == 0) {
		bit = SEEN_FORMAT;
		if (strcmp(value, "1") != 0)
			return fail(ps, "unsupported format '%s' (this lethefs reads format 1)%s",
				    value, "");
		cfg->format = 1;
	} else if (strcmp(name, "uuid") == 0) {
		bit = SEEN_UUID;
		if (parse_uuid(value, cfg->uuid) < 0)
			return fail(ps, "uuid '%s' is not 32 hex digits%s", value, "");
	} else if (strcmp(name, "cipher") == 0) {
		bit = SEEN_CIPHER;
		if (lfs_cipher_from_name(value, &cfg->cipher) < 0)
			return fail(ps,
				    "unknown cipher '%s' (expected xchacha20poly1305 or "
				    "aes256gcm)%s",
				    value, "");
	} else if (strcmp(name, "created") == 0) {
		bit = SEEN_CREATED;
		if (strlen(value) >= sizeof(cfg->created))
			return fail(ps, "created '%s' is too long%s", value, "");
		strcpy(cfg->created, value);
	} else {
		return fail(ps, "unknown key '%s' in section [%s]", name, "vault");
	}
	if (cfg->seen & bit)
		return fail(ps, "key '%s' appears twice in section [%s]", name, "vault");
	cfg->seen |= bit;
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
