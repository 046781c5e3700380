/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs upgrade: an unmounted format-1 vault becomes of format 2
 * (docs/FORMAT.md 14.7). Every object of d/ is converted in turn, each in
 * one atomic step or under a journal record (rotation/upconvert.h); then the
 * keyring says format 2 for every epoch (one atomic replacement: the
 * commit, from which on format-1 objects are refused), then lethefs.conf.
 * Resumable: after a crash or an error, running it again finds what is
 * converted and goes on; until the commit the vault stays of format 1 and
 * mounts as such (its converted objects already served from their records).
 * Staging directories keep format 1 until they are shredded. */
#define _GNU_SOURCE
#include "cli.h"
#include "../cluster/lease.h"
#include "../daemon/control.h"
#include "../daemon/recover.h"
#include "../fs/dirnames.h"
#include "../fs/longlink.h"
#include "../fs/treewalk.h"
#include "../rotation/upconvert.h"
#include "../staging/stage_store.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

struct up {
	struct lfs_keyring *kr;
	struct lfs_up_env env;
	bool verbose;
	unsigned long dirs, files, empty, nodes, already, errors;
};

static void up_error(struct up *u, struct lfs_treewalk *tw, const char *name, const char *what)
{
	const char *dir = lfs_treewalk_path(tw);
	u->errors++;
	fprintf(stderr, "lethefs: cannot convert d/%s%s%s: %s\n", dir, dir[0] && name ? "/" : "",
	        name ? name : "", what);
}

/* An object of format 2 already: its backing mode and owner given up
 * (a conversion cut short between its record and that). */
static void settle(struct up *u, int fd, const struct stat *st)
{
	bool dir = S_ISDIR(st->st_mode);
	if ((st->st_mode & 07777) != (dir ? 0700u : 0600u) || st->st_uid != geteuid() ||
	    st->st_gid != getegid())
		lfs_up_backing_attrs(fd, dir);
	u->already++;
}

static int up_enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name, int dfd,
                    void *level)
{
	struct up *u = ctx;
	struct lfs_dirmeta *m = level;
	(void)parentfd, (void)name;
	struct stat st;
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		up_error(u, tw, NULL, strerror(dfd < 0 ? -dfd : errno));
		return 0;
	}
	if (lfs_dirmeta_load(dfd, m) < 0) {
		up_error(u, tw, NULL, "directory metadata missing or corrupt");
		return 0;
	}
	/* What a conversion killed here left: hidden, unreferenced (offline,
	 * nothing else writes). */
	lfs_up_sweep_temps(dfd);
	if (m->version == 2) {
		settle(u, dfd, &st);
		return 1;
	}
	int r = lfs_up_dir(u->kr, dfd);
	if (r < 0) {
		up_error(u, tw, NULL, strerror(-r));
		return 0;
	}
	u->dirs++;
	if (u->verbose)
		printf("directory d/%s\n", lfs_treewalk_path(tw));
	return 1;
}

/* A regular backing file: empty (a header of version 2 in place), with
 * contents of version 1 (copied over under a record: 1), or done (0). */
static int up_file(struct up *u, int dfd, const char *name, const struct stat *st)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct lfs_file_header h, oh;
	struct lfs_irec rec;
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	int r = 0;
	if (st->st_size == 0) {
		r = -ENODATA; /* the caller gives it its directory's epoch */
	} else if ((r = lfs_pread_full(fd, raw, sizeof(raw), 0, &got)) == 0) {
		int v = lfs_header_version(raw, got);
		const struct lfs_epoch_keys *k;
		if (v == LFS_FILE_V2) {
			settle(u, fd, st);
		} else if (v != LFS_FILE_V1 || lfs_header_parse(raw, got, &oh) < 0 ||
		           oh.cipher != u->env.cipher) {
			r = -EIO;
		} else if ((r = lfs_keyring_get(u->kr, oh.epoch, &k)) == 0) {
			r = lfs_header_verify(raw, &oh, k, NULL) < 0 ? -EIO : 0;
			lfs_keyring_put(u->kr);
			if (r == 0 &&
			    (r = lfs_up_file(&u->env, fd, &oh, oh.epoch, &h, &rec)) == 0) {
				u->files++;
				r = 1;
			}
		}
	}
	close(fd);
	return r;
}

static int up_entry(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name, void *level)
{
	struct up *u = ctx;
	const struct lfs_dirmeta *m = level;
	enum lfs_entry_kind kind = lfs_classify_entry(name);
	struct stat st;
	if (kind != LFS_ENTRY_NAME && kind != LFS_ENTRY_LONG)
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		up_error(u, tw, name, strerror(errno));
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return 1;
	int r;
	if (S_ISREG(st.st_mode)) {
		r = up_file(u, dfd, name, &st);
		if (r == -ENODATA) {
			/* Empty: it takes its directory's epoch. */
			struct lfs_file_header h;
			struct lfs_irec rec;
			int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? -errno
			           : lfs_up_empty_file(u->kr, u->env.cipher, fd, &st, m->epoch, &h,
			                               &rec);
			if (fd >= 0)
				close(fd);
			if (r == 0) {
				u->empty++;
				r = 1;
			}
		}
	} else {
		/* A symlink (not a staging marker, which stays), FIFO, socket
		 * or device node: a regular backing file of format 2. */
		r = lfs_up_node(u->kr, u->env.cipher, u->env.treefd, dfd, name, m->epoch, NULL);
		if (r > 0)
			u->nodes++;
	}
	const char *dir = lfs_treewalk_path(tw);
	if (r < 0)
		up_error(u, tw, name, strerror(-r));
	else if (r > 0 && u->verbose)
		printf("converted d/%s%s%s\n", dir, dir[0] ? "/" : "", name);
	return 0;
}

static void up_leave(void *ctx, struct lfs_treewalk *tw, void *level)
{
	(void)ctx, (void)tw, (void)level;
}

static void lost(void *ctx, struct lfs_treewalk *tw, void *level, int err)
{
	(void)level;
	up_error(ctx, tw, NULL, strerror(-err));
}

/* The commit: every epoch of format 2 in the keyring (one atomic
 * replacement), then the config. */
static int commit(struct lfs_vault *v, struct lfs_keyring *kr)
{
	uint8_t ring[LFS_KEYRING_MAX_FILE_LEN];
	size_t len = 0;
	int r = lfs_keyring_set_format2(kr);
	if (r == 0)
		r = lfs_keyring_seal(kr, ring, &len);
	if (r == 0)
		r = lfs_replace_file(v->dirfd, LFS_KEYRING_FILE_NAME, ring, len, 0600);
	sodium_memzero(ring, sizeof(ring));
	if (r < 0)
		return r;
	v->cfg.format = 2;
	return lfs_vault_store_format(v);
}

static void upgrade_help(void)
{
	printf("Usage: lethefs upgrade [SECRET OPTIONS] [-v] VAULT\n"
	       "\n"
	       "Convert an unmounted vault of format 1 to format 2, where every object's type,\n"
	       "mode, owner and group are in an authenticated, encrypted record instead of the\n"
	       "backing store (docs/FORMAT.md section 14). Each object is converted in one\n"
	       "atomic step or under a journal record, so a crash loses nothing: run the\n"
	       "command again and it goes on where it stopped. Only when every object is\n"
	       "converted does the vault become of format 2 (its keyring, then lethefs.conf);\n"
	       "until then it mounts as format 1. Files with contents are copied once through\n"
	       "a temporary file in VAULT/d: the disk needs room for the largest file.\n"
	       "Staging directories keep format 1 until they are shredded. Older lethefs\n"
	       "versions cannot open a vault of format 2.\n"
	       "\n"
	       "A mounted vault can be upgraded instead by a key rotation ('lethefs rotate'),\n"
	       "whose new epoch is of format 2.\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP "  -v, --verbose       list every object converted\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 upgraded (or of format 2 already), 1 error (some objects could\n"
	       "not be converted: the vault stays of format 1; see fsck), 2 usage, 3 wrong\n"
	       "secret, 4 no vault, 5 corrupt vault files, 16 the vault is mounted.\n");
}

static int run(struct lfs_vault *v, struct lfs_keyring *kr, struct up *u, const char *path)
{
	struct lfs_recovery rc;
	int r = lfs_recover_vault(v, kr, &rc);
	if (r < 0 || rc.failed) {
		lfs_cli_error("cannot finish the updates a crash interrupted in %s (%s): nothing "
		              "was converted",
		              path, r < 0 ? strerror(-r) : "see the messages above");
		return LFS_EXIT_ERROR;
	}
	char data_path[PATH_MAX + 8], real[PATH_MAX];
	snprintf(data_path, sizeof(data_path), "%s/%s", path, LFS_DATA_DIR_NAME);
	int data =
	    openat(v->dirfd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data < 0 || !realpath(data_path, real)) {
		lfs_cli_error("vault %s has no usable data directory", path);
		if (data >= 0)
			close(data);
		return LFS_EXIT_CORRUPT;
	}
	lfs_up_sweep_temps(data);
	struct lfs_journal j;
	if ((r = lfs_journal_open(&j, v->dirfd, v->cfg.uuid, true, LFS_JOURNAL_DEF_SLOTS)) < 0) {
		lfs_cli_error("cannot open the journal of %s: %s", path, strerror(-r));
		close(data);
		return LFS_EXIT_ERROR;
	}
	u->kr = kr;
	u->env = (struct lfs_up_env){.kr = kr,
	                             .cipher = v->cfg.cipher,
	                             .journal = &j,
	                             .treefd = data,
	                             .data_path = real,
	                             .handles = geteuid() == 0};
	static const struct lfs_treewalk_ops ops = {
	    .enter = up_enter, .entry = up_entry, .leave = up_leave, .lost = lost};
	if (lfs_treewalk(data, &ops, u, sizeof(struct lfs_dirmeta)) < 0)
		u->errors++;
	lfs_journal_close(&j);
	close(data);
	/* No format-1 symlink is left: the link store's sidecars (a crash
	 * between converting a long one and removing its sidecar leaves one)
	 * are referenced by nothing. */
	if (!u->errors)
		lfs_link_sweep_store(data);
	if (u->errors) {
		lfs_cli_error(
		    "%lu object(s) of %s could not be converted: the vault stays of format "
		    "1. Fix or remove them ('lethefs fsck' reports damaged ones) and run "
		    "'lethefs upgrade' again",
		    u->errors, path);
		return LFS_EXIT_ERROR;
	}
	if ((r = commit(v, kr)) < 0) {
		lfs_cli_error("cannot mark %s as format 2: %s (run 'lethefs upgrade' again)", path,
		              strerror(-r));
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}

int lfs_cmd_upgrade(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	struct up u;
	memset(&u, 0, sizeof(u));
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		int handled = lfs_secret_option("upgrade", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		if (c == 'v') {
			u.verbose = true;
		} else if (c == 'h') {
			upgrade_help();
			return LFS_EXIT_OK;
		} else {
			return lfs_cli_usage_error("upgrade", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("upgrade", "expected exactly one VAULT argument");
	const char *path = argv[optind];
	struct lfs_vault v;
	char err[512];
	enum lfs_vault_error ve = lfs_vault_open(path, &v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	struct lfs_control ctl;
	int r = lfs_claim_vault("upgrade", path, &v, &ctl);
	if (r != 0) {
		lfs_vault_close(&v);
		return r;
	}
	/* Any host's mount (shared or not) holds the vault lease: the control
	 * socket above only covers this host. Held throughout, so that no
	 * host mounts the vault half converted, nor recovers its journals
	 * while this does. */
	struct lfs_lease lease = {.fd = -1, .hostfd = -1};
	r = lfs_cli_take_vault(&v, path, "upgrade", &lease, false);
	lfs_vault_close(&v);
	if (r != 0) {
		lfs_control_stop(&ctl);
		return r;
	}
	struct lfs_keyring kr;
	r = lfs_open_and_unlock(path, &src, &v, &kr);
	if (r != 0) {
		lfs_lease_release(&lease);
		lfs_control_stop(&ctl);
		return r;
	}
	bool was2 = lfs_keyring_format(&kr) == 2;
	if (was2) {
		/* The commit was written; only the config may lag behind. */
		if (v.format_stale && lfs_vault_store_format(&v) < 0)
			r = LFS_EXIT_ERROR;
		if (r == 0)
			printf("%s is of format 2 already.\n", path);
	} else {
		r = run(&v, &kr, &u, path);
		struct lfs_audit_detail d[] = {{"directories", NULL, (long long)u.dirs},
		                               {"files", NULL, (long long)(u.files + u.empty)},
		                               {"nodes", NULL, (long long)u.nodes},
		                               {"errors", NULL, (long long)u.errors}};
		if (lfs_cli_audit(&v, &kr, "upgrade", r == 0 ? "success" : "failure", d, 4) < 0 &&
		    r == 0)
			r = LFS_EXIT_ERROR;
		if (r == 0)
			printf(
			    "Upgraded %s to format 2: %lu directories, %lu files, %lu symlinks and "
			    "special files converted (%lu of format 2 already).\n",
			    path, u.dirs, u.files + u.empty, u.nodes, u.already);
	}
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	lfs_lease_release(&lease);
	lfs_control_stop(&ctl);
	return r;
}
