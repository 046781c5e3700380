/* SPDX-License-Identifier: Apache-2.0 */
/* The vault's INI configuration (VAULT/lethefs.conf): non-secret settings,
 * read with inih. Unknown sections or keys, duplicates and bad values are
 * errors with the line number, never silently ignored. */
#ifndef LETHEFS_CONFIG_H
#define LETHEFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cipher.h"

#define LFS_CONFIG_FILE_NAME "lethefs.conf"
/* Vault formats this version reads and writes (docs/FORMAT.md): 1, and 2
 * (modes, owners and node types in authenticated inode records, section
 * 13), which `init` creates by default. */
#define LFS_FORMAT_MIN     1
#define LFS_FORMAT_MAX     2
#define LFS_FORMAT_DEFAULT 2

struct lfs_vault_config {
	int format;
	uint8_t uuid[16];
	enum lfs_cipher_id cipher;
	char created[32]; /* ISO 8601 UTC */
	unsigned seen;    /* bitmask of keys met while parsing */

	/* [access]: who may unlock, where, and for how long. */
	char admin_group[33];       /* group allowed on the control socket; "" = root only */
	char control_socket[108];   /* "" = the default under /run/lethefs/ */
	uint64_t idle_lock_seconds; /* 0 = never lock for inactivity */
	/* [audit] */
	char audit_log[256]; /* "" = LFS_AUDIT_DEFAULT_NAME in the vault */
	/* [staging] (docs/STAGING.md) */
	char staging_root[256];        /* relative path in the mount; "" = none */
	uint64_t staging_default_ttl;  /* for directories made under staging_root */
	uint64_t staging_max_ttl;      /* 0 = no limit ("off"); default 30 days */
	int staging_allow_extend;      /* 0/1: may a TTL be pushed later? */
	int staging_owner_may_shorten; /* 0/1: may writers shorten or shred? */
	unsigned staging_max_per_user; /* live directories per non-root uid; 0 = no limit */
	/* Set by lfs_config_parse_staging only: the first error met in a
	 * section other than [vault] and [staging], which it skipped. */
	char skipped[256];
};

/* Default TTL of directories under staging_root when none is configured. */
#define LFS_STAGING_DEFAULT_TTL (7ULL * 86400)
/* Defaults of staging_max_ttl and staging_max_per_user: any user of the
 * mount may create staging directories, so both are bounded unless the
 * administrator says otherwise (docs/STAGING.md). */
#define LFS_STAGING_DEFAULT_MAX_TTL  (30ULL * 86400)
#define LFS_STAGING_DEFAULT_PER_USER 16u

#define LFS_AUDIT_DEFAULT_NAME "lethefs.audit"
/* The only place outside the vault an [audit] log may be (root's). */
#define LFS_AUDIT_ABS_DIR "/var/log/lethefs"

/* Parses text (len bytes, need not be NUL-terminated). Returns 0, or -EINVAL
 * with a human-readable reason in err. */
int lfs_config_parse(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
                     size_t errlen);
/* The same for what expiring staging directories needs ([vault] and
 * [staging]): an error in any other section is skipped and described in
 * cfg->skipped, so that a typo elsewhere never keeps expired data on disk
 * (lethefs shred-expired). Errors in [vault] or [staging] still fail. */
int lfs_config_parse_staging(const char *text, size_t len, struct lfs_vault_config *cfg, char *err,
                             size_t errlen);
/* Renders the config as INI text. Returns the length, or -ENOSPC. */
int lfs_config_format(const struct lfs_vault_config *cfg, char *buf, size_t buflen);
/* The same text with the value of [vault] format replaced by format and
 * every other byte kept (comments, the administrator's keys): into out
 * (outlen bytes). Returns the new length, -EINVAL when text has no such
 * line or does not parse afterwards, -ENOSPC when out is too small. */
int lfs_config_set_format(const char *text, size_t len, int format, char *out, size_t outlen);

#endif
