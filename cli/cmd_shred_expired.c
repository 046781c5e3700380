/* lethefs shred-expired VAULT: the expiry of staging directories for a
 * vault nobody has mounted (run from cron or the shipped systemd timer).
 * Destroying keys and deleting ciphertext needs no key, so no secret is
 * asked. A mounted vault is left to its daemon, which holds the keys in
 * memory and shreds on its own within a second. */
#define _GNU_SOURCE
#include "cli.h"
#include "../cluster/lease.h"
#include "../daemon/control.h"
#include "../staging/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct offline {
	struct lfs_vault *v;
	struct lfs_keyring *kr;
	int failed;
};

static void offline_audit(void *arg, const char *event, const char *outcome,
                          const struct lfs_audit_caller *caller,
                          const struct lfs_audit_detail *details, size_t ndetails)
{
	(void)caller; /* this process is the caller */
	struct offline *o = arg;
	if (lfs_cli_audit(o->v, o->kr, event, outcome, details, ndetails) < 0)
		o->failed = 1;
}

static bool daemon_live(const struct lfs_vault_config *cfg)
{
	char path[108];
	lfs_control_default_path(cfg, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	bool live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return live;
}

int lfs_cmd_shred_expired(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: lethefs shred-expired VAULT\n"
		       "\n"
		       "Shred the staging directories of VAULT whose TTL has expired, and finish\n"
		       "shreds that were interrupted: keys first, then ciphertext, each one\n"
		       "audited. No secret is needed. A mounted vault is left to its daemon.\n"
		       "Meant for cron or lethefs-shred@.timer (dist/systemd).\n"
		       "\n"
		       "Exit codes: 0 done (also: mounted, nothing to do here), 1 error,\n"
		       "2 usage, 4 no vault, 5 corrupt staging index.\n");
		return LFS_EXIT_OK;
	}
	if (argc != 2)
		return lfs_cli_usage_error("shred-expired", "expected VAULT");
	struct lfs_vault v;
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open(argv[1], &v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	/* A mount on any host holds the vault lease (the socket check covers
	 * daemons that predate it). Held while shredding. */
	struct lfs_lease lease;
	if (daemon_live(&v.cfg) ||
	    lfs_cli_take_vault(&v, argv[1], "shred-expired", &lease, true) == LFS_EXIT_MOUNTED) {
		printf("%s is mounted: its daemon shreds expired staging directories itself\n",
		       argv[1]);
		lfs_vault_close(&v);
		return LFS_EXIT_OK;
	}
	struct lfs_keyring kr; /* stays locked: entries are chained, not keyed */
	lfs_keyring_init(&kr, v.cfg.uuid, v.cfg.cipher);
	int datafd = openat(v.dirfd, LFS_DATA_DIR_NAME, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lfs_staging st;
	int r = datafd < 0 ? -errno : lfs_staging_init(&st, v.dirfd, datafd, &kr, &v.cfg);
	if (r < 0) {
		lfs_cli_error("cannot open the staging index of %s: %s", argv[1], strerror(-r));
		if (datafd >= 0)
			close(datafd);
		lfs_keyring_destroy(&kr);
		lfs_lease_release(&lease);
		lfs_vault_close(&v);
		return r == -EINVAL ? LFS_EXIT_CORRUPT : LFS_EXIT_ERROR;
	}
	struct offline o = {.v = &v, .kr = &kr};
	st.events = (struct lfs_event_sink){.emit = offline_audit, .ctx = &o};
	lfs_staging_sweep_orphans(&st);
	int n = lfs_staging_tick(&st, (int64_t)time(NULL));
	lfs_staging_destroy(&st);
	close(datafd);
	lfs_keyring_destroy(&kr);
	lfs_lease_release(&lease);
	lfs_vault_close(&v);
	printf("%d staging director%s shredded\n", n, n == 1 ? "y" : "ies");
	return o.failed ? LFS_EXIT_ERROR : LFS_EXIT_OK;
}
