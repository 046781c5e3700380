/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "cli.h"
#include "../cluster/lease.h"
#include "../audit/audit.h"
#include "../common/log.h"
#include "../keymgmt/recovery.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sodium.h>

int lfs_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "lethefs %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'lethefs %s --help'.\n", cmd);
	return LFS_EXIT_USAGE;
}

int lfs_secret_option(const char *cmd, int c, const char *arg, struct lfs_secret_source *src)
{
	switch (c) {
	case LFS_OPT_PASSFILE:
		src->passfile = arg;
		return 1;
	case LFS_OPT_PASSFD: {
		char *end;
		long fd = strtol(arg, &end, 10);
		if (*end || end == arg || fd < 0 || fd > 65535) {
			lfs_cli_usage_error(cmd, "bad --passfd '%s'", arg);
			return -1;
		}
		src->passfd = (int)fd;
		return 1;
	}
	case LFS_OPT_EXTPASS:
		src->extpass = arg;
		return 1;
	case LFS_OPT_KEYFILE:
		src->keyfile = arg;
		return 1;
	case LFS_OPT_RECOVERY:
		src->recovery = true;
		return 1;
	}
	return 0;
}

int lfs_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	uint64_t mul = 1;
	switch (*end) {
	case '\0':
		break;
	case 'K':
	case 'k':
		mul = 1ULL << 10;
		end++;
		break;
	case 'M':
	case 'm':
		mul = 1ULL << 20;
		end++;
		break;
	case 'G':
	case 'g':
		mul = 1ULL << 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

int lfs_parse_slot(const char *cmd, const char *s, int *idx)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < 0 || v >= LFS_NSLOTS) {
		lfs_cli_usage_error(cmd, "bad --slot '%s' (0 to %d)", s, LFS_NSLOTS - 1);
		return -1;
	}
	*idx = (int)v;
	return 0;
}

int lfs_exit_for_vault_error(enum lfs_vault_error e, const char *err)
{
	lfs_cli_error("%s", err);
	switch (e) {
	case LFS_VAULT_MISSING:
		return LFS_EXIT_NO_VAULT;
	case LFS_VAULT_CORRUPT:
		return LFS_EXIT_CORRUPT;
	default:
		return LFS_EXIT_ERROR;
	}
}

int lfs_cli_take_vault(struct lfs_vault *v, const char *path, const char *what, struct lfs_lease *l,
                       bool quiet)
{
	char who[768];
	/* An offline command holding it finishes in seconds: wait for it. */
	int r = lfs_lease_acquire(l, v->dirfd, LFS_LEASE_COMMAND, what, 10000, who, sizeof(who));
	if (r == 0)
		return LFS_EXIT_OK;
	if (r == -EROFS)
		return LFS_EXIT_OK; /* read-only storage: nobody writes it anyway */
	if (!quiet && (r == -EBUSY || r == -EEXIST))
		lfs_cli_error("%s is in use by %s: %s runs only on a vault nobody has mounted",
		              path, who, what);
	else if (!quiet)
		lfs_cli_error("%s: %s", path, who);
	return r == -EBUSY || r == -EEXIST ? LFS_EXIT_MOUNTED : LFS_EXIT_ERROR;
}

/* The secret is a recovery key: decode it and check it against the
 * keyring, which it must authenticate. */
static int unlock_by_recovery_key(const char *path, struct lfs_vault *v, const struct lfs_secret *s,
                                  struct lfs_keyring *kr)
{
	const char *why = NULL;
	uint8_t *master = sodium_malloc(LFS_MASTER_KEY_LEN);
	if (!master) {
		lfs_cli_error("out of memory");
		return LFS_EXIT_ERROR;
	}
	int r = lfs_recovery_decode(s->data, s->len, master, &why);
	if (r < 0) {
		sodium_free(master);
		lfs_cli_error("not a valid recovery key: %s", why);
		return LFS_EXIT_BAD_SECRET;
	}
	r = lfs_vault_unlock_master(v, master, kr);
	sodium_free(master);
	if (r == 0)
		return LFS_EXIT_OK;
	if (r == -EKEYREJECTED) {
		struct lfs_audit_detail d[] = {{"error", "wrong recovery key", 0}};
		lfs_cli_audit(v, NULL, "unlock", "failure", d, 1);
		lfs_cli_error("wrong recovery key: it is well-formed but does not open %s", path);
		return LFS_EXIT_BAD_SECRET;
	}
	lfs_cli_error("%s/%s is missing or corrupt", path, LFS_KEYRING_FILE_NAME);
	return LFS_EXIT_CORRUPT;
}

static int unlock_by_keyslot(const char *path, struct lfs_vault *v, const struct lfs_secret *s,
                             struct lfs_keyring *kr, int *slot)
{
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "Deriving the key (Argon2id) and unlocking %s...\n", path);
	int r = lfs_vault_unlock(v, s->data, s->len, kr, slot);
	if (r == 0)
		return LFS_EXIT_OK;
	if (r == -EKEYREJECTED) {
		struct lfs_audit_detail d[] = {{"error", "wrong secret", 0}};
		lfs_cli_audit(v, NULL, "unlock", "failure", d, 1);
		lfs_cli_error("wrong passphrase: no keyslot of %s opens with it", path);
		return LFS_EXIT_BAD_SECRET;
	}
	if (r == -ENOMEM) {
		lfs_cli_error("out of memory while deriving the key (Argon2id)");
		return LFS_EXIT_ERROR;
	}
	if (r == -ENOTSUP) {
		lfs_cli_error("vault %s uses %s, which this CPU cannot run", path,
		              lfs_cipher_name(v->cfg.cipher));
		return LFS_EXIT_ERROR;
	}
	if (r == -ERANGE) {
		lfs_cli_error("no keyslot of %s was tried: every used slot has Argon2id "
		              "parameters out of the bounds lethefs accepts (edited?)",
		              path);
		return LFS_EXIT_CORRUPT;
	}
	lfs_cli_error("%s/%s is corrupt or does not belong to this vault's configuration", path,
	              LFS_KEYRING_FILE_NAME);
	return LFS_EXIT_CORRUPT;
}

int lfs_unlock_vault(const char *path, struct lfs_vault *v, const struct lfs_secret_source *src,
                     struct lfs_keyring *kr, int *slot, struct lfs_secret *keep)
{
	char err[512];
	struct lfs_secret s;
	if (lfs_secret_read(src, false, "Passphrase: ", &s, err, sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		return LFS_EXIT_ERROR;
	}
	int r;
	*slot = -1;
	if (src->recovery)
		r = unlock_by_recovery_key(path, v, &s, kr);
	else
		r = unlock_by_keyslot(path, v, &s, kr, slot);
	if (r == LFS_EXIT_OK && keep)
		*keep = s;
	else
		lfs_secret_free(&s);
	return r;
}

int lfs_open_and_unlock(const char *path, const struct lfs_secret_source *src, struct lfs_vault *v,
                        struct lfs_keyring *kr)
{
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open(path, v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	if (!lfs_cipher_available(v->cfg.cipher)) {
		lfs_cli_error("vault %s uses %s, which this CPU cannot run", path,
		              lfs_cipher_name(v->cfg.cipher));
		lfs_vault_close(v);
		return LFS_EXIT_ERROR;
	}
	int slot;
	int r = lfs_unlock_vault(path, v, src, kr, &slot, NULL);
	if (r != LFS_EXIT_OK)
		lfs_vault_close(v);
	return r;
}

void lfs_harden_process(void)
{
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	/* Not dumpable: no core file, and only root can ptrace or read
	 * /proc/PID/mem of this process. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
