/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs shred-expired VAULT: the expiry of staging directories for a
 * vault no daemon serves (run from cron or the shipped systemd timer).
 * Destroying keys and deleting ciphertext needs no key, so no secret is
 * asked, and only [vault] and [staging] of lethefs.conf must be right. A
 * vault whose daemon answers is left to it (it holds the keys in memory
 * and shreds on its own within a second); a daemon that does not answer
 * (stopped, hung) does not keep expired data on disk. */
#define _GNU_SOURCE
#include "cli.h"
#include "../cluster/lease.h"
#include "cmd_stage.h"
#include "ctl_client.h"
#include "../daemon/control.h"
#include "../staging/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

/* How long a daemon has to answer before it counts as stopped or hung. */
#define PROBE_TIMEOUT_MS 3000

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

static void help(void)
{
	printf("Usage: lethefs shred-expired [--dry-run] VAULT\n"
	       "\n"
	       "Shred the staging directories of VAULT whose TTL has expired, and finish\n"
	       "shreds and creations that a crash interrupted: keys first, then\n"
	       "ciphertext, each one audited. No secret is needed, and only the [vault] and\n"
	       "[staging] sections of lethefs.conf must be valid (an error elsewhere is\n"
	       "reported on stderr and in the audit log, and the shred goes on). A vault\n"
	       "whose daemon answers is left to it; a daemon that does not answer within\n"
	       "3 s (stopped, hung) does not stop the shred. Meant for cron or\n"
	       "lethefs-shred@.timer (dist/systemd).\n"
	       "\n"
	       "  --dry-run  list what would be shredded now (expired, or without a valid\n"
	       "             retention record), change nothing, write no audit entry\n"
	       "\n"
	       "Exit codes: 0 done (also: a live daemon serves it), 1 a key could not be\n"
	       "destroyed or the audit log not written, 2 usage, 4 no vault, 5 [vault] or\n"
	       "[staging] invalid.\n");
}

/* Leaves the vault to a live daemon (returns 1), or says why it goes on (2:
 * a daemon here that does not answer). */
static int leave_to_daemon(const char *path, struct lfs_vault *v, bool quiet)
{
	char uuid[33], real[PATH_MAX], configured[108], dflt[108];
	sodium_bin2hex(uuid, sizeof(uuid), v->cfg.uuid, 16);
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	lfs_control_default_path(&v->cfg, configured);
	snprintf(dflt, sizeof(dflt), "/run/lethefs/%s.sock", uuid);
	const char *sockets[] = {configured, dflt, NULL};
	struct lfs_ctl_probe p;
	int r = lfs_ctl_probe_vault(uuid, real, sockets, PROBE_TIMEOUT_MS, &p);
	if (r == 1) {
		if (!quiet)
			printf("%s is mounted: its daemon (pid %d) shreds expired staging "
			       "directories itself\n",
			       path, (int)p.pid);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr,
		        "lethefs: the daemon of %s (pid %d, %s) does not answer within %d s "
		        "(stopped or hung): shredding anyway\n",
		        path, (int)p.pid, p.mountpoint[0] ? p.mountpoint : "unknown mountpoint",
		        PROBE_TIMEOUT_MS / 1000);
		return 2; /* it holds the vault lease: shredding goes on without it */
	}
	return 0;
}

/* The shred pass itself; *shredded and *failed counted. Returns an exit
 * code. */
static int shred_expired(const char *path, bool quiet, int *shredded, unsigned *failed)
{
	*shredded = 0;
	*failed = 0;
	struct lfs_vault v;
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open_for_staging(path, &v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return quiet ? LFS_EXIT_CORRUPT : lfs_exit_for_vault_error(ve, err);
	int daemon = leave_to_daemon(path, &v, quiet);
	/* A mount on any host holds the vault lease, held here while
	 * shredding. Held by a mount elsewhere, the expiry is its daemons'
	 * (one of them shreds within a second); held by a daemon here that
	 * does not answer, expired data does not wait for it. */
	struct lfs_lease lease = {.fd = -1, .hostfd = -1}; /* released: harmless */
	bool elsewhere = daemon == 0 && lfs_cli_take_vault(&v, path, "shred-expired", &lease,
	                                                   true) == LFS_EXIT_MOUNTED;
	if (daemon == 1 || elsewhere) {
		if (elsewhere && !quiet)
			printf("%s is mounted: its daemons shred expired staging directories "
			       "themselves\n",
			       path);
		lfs_vault_close(&v);
		return LFS_EXIT_OK;
	}
	struct lfs_keyring kr; /* stays locked: entries are chained, not keyed */
	lfs_keyring_init(&kr, v.cfg.uuid, v.cfg.cipher);
	struct offline o = {.v = &v, .kr = &kr};
	if (v.cfg.skipped[0]) {
		/* Retention does not wait for someone to fix a typo elsewhere. */
		if (!quiet)
			fprintf(
			    stderr,
			    "lethefs: %s/lethefs.conf: %s: ignored here (only [vault] and "
			    "[staging] matter for expiry), but the vault will not mount until it "
			    "is fixed\n",
			    path, v.cfg.skipped);
		struct lfs_audit_detail d[] = {{"error", v.cfg.skipped, 0},
		                               {"action",
		                                "expired staging directories shredded "
		                                "with [vault] and [staging] only",
		                                0}};
		offline_audit(&o, "config-invalid", "failure", NULL, d, 2);
	}
	int datafd = openat(v.dirfd, LFS_DATA_DIR_NAME, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lfs_staging st;
	int r = datafd < 0 ? -errno : lfs_staging_init(&st, v.dirfd, datafd, &kr, &v.cfg);
	if (r < 0) {
		if (!quiet)
			lfs_cli_error("cannot open the staging directories of %s: %s", path,
			              strerror(-r));
		if (datafd >= 0)
			close(datafd);
		lfs_keyring_destroy(&kr);
		lfs_lease_release(&lease);
		lfs_vault_close(&v);
		return r == -ENOENT ? LFS_EXIT_OK : LFS_EXIT_ERROR;
	}
	st.events = (struct lfs_event_sink){.emit = offline_audit, .ctx = &o};
	lfs_staging_recover(&st);
	*shredded = lfs_staging_tick(&st);
	*failed = st.failed;
	lfs_staging_destroy(&st);
	close(datafd);
	lfs_keyring_destroy(&kr);
	lfs_lease_release(&lease);
	lfs_vault_close(&v);
	return o.failed || *failed ? LFS_EXIT_ERROR : LFS_EXIT_OK;
}

void lfs_expire_after_failed_mount(const char *vault)
{
	int n;
	unsigned failed;
	shred_expired(vault, true, &n, &failed);
	if (n || failed)
		fprintf(stderr,
		        "lethefs: %s cannot be mounted, but its expired staging directories were "
		        "shredded anyway: %d shredded, %u failed\n",
		        vault, n, failed);
}

/* --dry-run: what the pass would shred, read without a key like stage
 * list VAULT. Interrupted shreds and creations, which the pass would also
 * finish, are not listed (they are no longer visible directories). */
static int dry_run(const char *path)
{
	struct lfs_stage_index ix = {0};
	bool index_damaged = false;
	int64_t now;
	int vault_exit;
	int r = lfs_stage_read_vault(path, &ix, &index_damaged, &now, &vault_exit);
	if (vault_exit)
		return vault_exit;
	if (r < 0) {
		lfs_cli_error("cannot read the staging directories of %s: %s", path, strerror(-r));
		return LFS_EXIT_CORRUPT;
	}
	unsigned n = 0;
	for (size_t i = 0; i < ix.n; i++) {
		const struct lfs_stage_entry *e = &ix.e[i];
		if (!e->why && e->expires > now)
			continue;
		char hex[9];
		lfs_stage_id_hex(e->id, hex);
		if (e->why)
			printf("would shred %s: %s\n", hex, e->why);
		else
			printf("would shred %s: expired %lld s ago\n", hex,
			       (long long)(now - e->expires));
		n++;
	}
	printf("%u staging director%s would be shredded (dry run: nothing changed)\n", n,
	       n == 1 ? "y" : "ies");
	lfs_stage_index_free(&ix);
	return LFS_EXIT_OK;
}

int lfs_cmd_shred_expired(int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	bool dry = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			help();
			return LFS_EXIT_OK;
		}
		if (c == '?')
			return LFS_EXIT_USAGE;
		dry |= c == 'n';
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("shred-expired", "expected [--dry-run] VAULT");
	if (dry)
		return dry_run(argv[optind]);
	int n;
	unsigned failed;
	int r = shred_expired(argv[optind], false, &n, &failed);
	if (r != LFS_EXIT_OK && r != LFS_EXIT_ERROR)
		return r;
	printf("%d staging director%s shredded\n", n, n == 1 ? "y" : "ies");
	if (failed)
		fprintf(stderr,
		        "lethefs: %u staging director%s could not be shredded: the key file could "
		        "not be overwritten (see above; the audit log records the failure)\n",
		        failed, failed == 1 ? "y" : "ies");
	return r;
}
