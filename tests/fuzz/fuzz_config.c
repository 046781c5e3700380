/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the INI configuration parser. Besides crashes, checks that a
 * failure always explains itself and that an accepted configuration
 * survives lfs_config_format and a second parse unchanged (what lethefs
 * writes at init it must read back at mount). */
#include "fuzz_common.h"

#include <errno.h>

#include "../../keymgmt/config.h"

FZ_DEFINE_INIT

static void check_roundtrip(const struct lfs_vault_config *cfg)
{
	struct lfs_vault_config back;
	char text[2048], err[256];
	int n = lfs_config_format(cfg, text, sizeof(text));
	FZ_CHECK(n > 0);
	int r = lfs_config_parse(text, (size_t)n, &back, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "re-parse failed: %s\n%s", err, text);
	FZ_CHECK(r == 0);
	FZ_CHECK(back.format == cfg->format);
	FZ_CHECK(memcmp(back.uuid, cfg->uuid, sizeof(back.uuid)) == 0);
	FZ_CHECK(back.cipher == cfg->cipher);
	FZ_CHECK(strcmp(back.created, cfg->created) == 0);
	FZ_CHECK(back.seen == cfg->seen);
	FZ_CHECK(strcmp(back.admin_group, cfg->admin_group) == 0);
	FZ_CHECK(strcmp(back.control_socket, cfg->control_socket) == 0);
	FZ_CHECK(back.idle_lock_seconds == cfg->idle_lock_seconds);
	FZ_CHECK(strcmp(back.audit_log, cfg->audit_log) == 0);
}

/* The lenient parse of shred-expired: never accepts what the strict one
 * refuses in [vault]/[staging], and agrees with it on a valid file. */
static void check_lenient(const uint8_t *data, size_t size, int strict,
                          const struct lfs_vault_config *scfg)
{
	struct lfs_vault_config cfg;
	char err[256];
	int r = lfs_config_parse_staging((const char *)data, size, &cfg, err, sizeof(err));
	FZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	FZ_CHECK(memchr(cfg.skipped, '\0', sizeof(cfg.skipped)) != NULL);
	if (strict == 0) {
		FZ_CHECK(r == 0 && cfg.skipped[0] == '\0');
		FZ_CHECK(memcmp(cfg.uuid, scfg->uuid, 16) == 0);
		FZ_CHECK(strcmp(cfg.staging_root, scfg->staging_root) == 0);
		FZ_CHECK(cfg.staging_max_ttl == scfg->staging_max_ttl);
		FZ_CHECK(cfg.staging_default_ttl == scfg->staging_default_ttl);
	}
	if (r == 0) {
		FZ_CHECK(cfg.format >= LFS_FORMAT_MIN && cfg.format <= LFS_FORMAT_MAX);
		FZ_CHECK(strict != 0 || cfg.format == scfg->format);
		FZ_CHECK(cfg.staging_default_ttl > 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lfs_vault_config cfg;
	char err[256];
	/* Poison the buffer: an error path that forgets to write err shows. */
	memset(err, 0x7f, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	int r = lfs_config_parse((const char *)data, size, &cfg, err, sizeof(err));
	check_lenient(data, size, r, &cfg);
	if (r != 0) {
		FZ_CHECK(r == -EINVAL || r == -ENOMEM);
		if (r == -EINVAL)
			FZ_CHECK(err[0] != '\0' && err[0] != 0x7f);
		return 0;
	}
	FZ_CHECK(cfg.format >= LFS_FORMAT_MIN && cfg.format <= LFS_FORMAT_MAX);
	/* The format line rewritten (an upgrade's last step) keeps the rest. */
	static char out[70000];
	int other = cfg.format == 1 ? 2 : 1;
	int n = lfs_config_set_format((const char *)data, size, other, out, sizeof(out));
	if (n >= 0) {
		struct lfs_vault_config again;
		FZ_CHECK(lfs_config_parse(out, (size_t)n, &again, err, sizeof(err)) == 0);
		FZ_CHECK(again.format == other);
	}
	FZ_CHECK(cfg.cipher == LFS_CIPHER_XCHACHA20POLY1305 || cfg.cipher == LFS_CIPHER_AES256GCM);
	FZ_CHECK(memchr(cfg.created, '\0', sizeof(cfg.created)) != NULL);
	check_roundtrip(&cfg);
	return 0;
}
