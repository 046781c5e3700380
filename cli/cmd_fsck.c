/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs fsck: walk the backing tree of an unmounted (or mounted) vault,
 * decrypting every name, symlink target, xattr and block. Reports each
 * corrupt item by its backing path and exits 6 when any is found. */
#define _GNU_SOURCE
#include "cli.h"
#include "fsck.h"
#include "../staging/stage_store.h"
#include "../fs/attr.h"
#include "../fs/dirnames.h"
#include "../fs/fileio.h"
#include "../fs/tree.h"
#include "../fs/treewalk.h"
#include "../daemon/recover.h"
#include "../rotation/batch.h"
#include "../rotation/replay.h"
#include "../rotation/rotjournal.h"
#include "../rotation/state.h"
#include "../journal/journal.h"
#include "../cluster/lease.h"

#include <dirent.h>
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

/* A record names one object, a rotation batch up to LFS_ROT_BATCH_FILES. */
#define MAX_PENDING (LFS_JOURNAL_MAX_SLOTS * LFS_ROT_BATCH_FILES)

bool lfs_fsck_is_pending(const struct fsck *f, int fd)
{
	struct stat st;
	if (f->ntargets == 0 || fstat(fd, &st) < 0)
		return false;
	/* By inode number alone: the records of shared hosts name their own
	 * mount's device (docs/SHARED.md), and the vault is one filesystem. */
	for (unsigned i = 0; i < f->ntargets; i++)
		if (f->targets[i].ino == (uint64_t)st.st_ino)
			return true;
	return false;
}

static struct fsck_counts counts(const struct fsck *f)
{
	return (struct fsck_counts){.dirs = f->dirs,
	                            .files = f->files,
	                            .links = f->links,
	                            .problems = f->problems,
	                            .pending = f->pending,
	                            .bytes = f->bytes};
}

void lfs_fsck_problem(struct fsck *f, const char *path, const char *what)
{
	f->problems++;
	lfs_fsck_item(&f->rep, "corrupt", path, what);
}

/* The plaintext path of the entry name of the directory on top, in
 * f->path (grown as needed: a tree may be any depth). */
static const char *entry_path(struct fsck *f, const char *name)
{
	size_t need = f->path_len + strlen(name) + 2;
	if (need > f->path_cap) {
		size_t cap = need * 2;
		char *p = realloc(f->path, cap);
		if (!p)
			return name;
		f->path = p;
		f->path_cap = cap;
	}
	f->path[f->path_len] = '/';
	strcpy(f->path + f->path_len + 1, name);
	return f->path;
}

/* Per directory of the walk (fs/treewalk.h). */
struct fsck_level {
	struct lfs_dirmeta m;
	size_t path_len; /* f->path's length before this directory */
};

static int fsck_enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name, int dfd,
                      void *level)
{
	struct fsck *f = ctx;
	struct fsck_level *lv = level;
	(void)tw, (void)parentfd;
	lv->path_len = f->path_len;
	if (name) {
		/* The plaintext name its entry decrypted to (fsck_entry). */
		entry_path(f, f->next_name);
		f->path_len = strlen(f->path);
	}
	const char *path = f->path_len ? f->path : "/";
	f->dirs++;
	if (dfd < 0) {
		lfs_fsck_problem(f, path, strerror(-dfd));
		return 0;
	}
	if (lfs_dirmeta_load(dfd, &lv->m) < 0) {
		lfs_fsck_problem(f, path, "directory metadata missing or corrupt");
		return 0;
	}
	struct stat st;
	uint8_t root_type;
	if (!name && fstat(dfd, &st) == 0)
		lfs_fsck_check_attrs(f, NULL, dfd, NULL, &st, path,
		                     &root_type); /* its own record */
	return 1;
}

static void fsck_leave(void *ctx, struct lfs_treewalk *tw, void *level)
{
	struct fsck *f = ctx;
	(void)tw;
	f->path_len = ((struct fsck_level *)level)->path_len;
	if (f->path)
		f->path[f->path_len] = '\0';
}

static void fsck_lost(void *ctx, struct lfs_treewalk *tw, void *level, int err)
{
	struct fsck *f = ctx;
	(void)tw, (void)level;
	lfs_fsck_problem(f, f->path_len ? f->path : "/", strerror(-err));
}

static int fsck_entry(void *ctx, struct lfs_treewalk *tw, int dirfd, const char *bname, void *level)
{
	struct fsck *f = ctx;
	struct fsck_level *lv = level;
	(void)tw;
	char plain[LFS_NAME_MAX + 1];
	int r = lfs_entry_name(&f->fs, dirfd, &lv->m, bname, plain);
	if (r == -ENOENT)
		return 0; /* our own metadata */
	const char *path;
	if (r < 0) {
		char what[LFS_NAME_MAX + 32];
		snprintf(what, sizeof(what), "<backing name %s>", bname);
		path = entry_path(f, what);
		/* A directory whose conversion a crash interrupted (a rotation
		 * record names it) holds names of both epochs until the next
		 * mount finishes it. */
		if (r == -EBADMSG && lfs_fsck_is_pending(f, dirfd)) {
			f->pending++;
			lfs_fsck_item(&f->rep, "pending", path,
			              "a name of an interrupted directory conversion, completed at "
			              "the next mount or by 'lethefs fsck --repair'");
		} else {
			lfs_fsck_problem(
			    f, path, r == -EBADMSG ? "name does not authenticate" : strerror(-r));
		}
		f->path[f->path_len] = '\0';
		return 0;
	}
	path = entry_path(f, plain);
	struct stat st;
	int descend = 0;
	unsigned long problems_before = f->problems;
	if (fstatat(dirfd, bname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		lfs_fsck_problem(f, path, strerror(errno));
	} else {
		uint8_t type = 0;
		if (!lfs_fsck_is_marker(dirfd, bname, &st))
			lfs_fsck_check_attrs(f, &lv->m, dirfd, bname, &st, path, &type);
		lfs_fsck_check_mode(f, &st, path);
		if (S_ISDIR(st.st_mode)) {
			lfs_fsck_check_xattrs(f, dirfd, bname, path);
			snprintf(f->next_name, sizeof(f->next_name), "%s", plain);
			descend = 1;
		} else if (S_ISREG(st.st_mode)) {
			lfs_fsck_check_xattrs(f, dirfd, bname, path);
			lfs_fsck_check_file(f, dirfd, bname, path);
			/* Format 2: symlinks, FIFOs, sockets and devices are regular
			 * backing files (FORMAT.md 14.3); counted as what their
			 * record says, as format 1's are. */
			if (type && type != LFS_IREC_REG)
				f->files--;
			if (type == LFS_IREC_LNK)
				f->links++;
		} else if (S_ISLNK(st.st_mode)) {
			lfs_fsck_check_link(f, dirfd, bname, path);
		}
		if (f->verbose && f->problems == problems_before)
			lfs_fsck_item(&f->rep, "ok", path, NULL);
	}
	f->path[f->path_len] = '\0';
	struct fsck_counts n = counts(f);
	lfs_fsck_tick(&f->rep, &n);
	return descend;
}

void lfs_fsck_check_dir(struct fsck *f, int dirfd, const char *prefix)
{
	static const struct lfs_treewalk_ops ops = {
	    .enter = fsck_enter, .entry = fsck_entry, .leave = fsck_leave, .lost = fsck_lost};
	/* Paths below start with prefix ("" for the tree's root). */
	free(f->path);
	f->path = strdup(prefix);
	f->path_len = f->path ? strlen(prefix) : 0;
	f->path_cap = f->path ? f->path_len + 1 : 0;
	if (lfs_treewalk(dirfd, &ops, f, sizeof(struct fsck_level)) < 0)
		lfs_fsck_problem(f, prefix[0] ? prefix : "/", "out of memory");
	free(f->path);
	f->path = NULL;
	f->path_len = f->path_cap = 0;
}

static void add_target(struct fsck *f, const struct lfs_journal_target *t)
{
	if (f->targets && f->ntargets < MAX_PENDING) {
		f->targets[f->ntargets].dev = t->dev;
		f->targets[f->ntargets].ino = t->ino;
		f->ntargets++;
	}
}

static int note_target(void *arg, const struct lfs_journal_record *r)
{
	struct fsck *f = arg;
	if (r->kind != LFS_JK_ROTATE_BATCH) {
		add_target(f, &r->target);
		return -EAGAIN; /* read only: the record stays */
	}
	/* A batch: every file it names is pending. */
	struct lfs_journal_target *t = malloc(sizeof(*t));
	const uint8_t *old_raw, *new_raw;
	size_t off = 0, hdr_len;
	while (t && lfs_rot_batch_next(r->payload, r->payload_len, &off, t, &old_raw, &new_raw,
	                               &hdr_len) > 0)
		add_target(f, t);
	free(t);
	return -EAGAIN;
}

struct pending_pass {
	struct fsck *f;
	struct lfs_vault *v;
	struct lfs_keyring *kr;
	unsigned rejected;
};

static int list_one(const char *name, void *arg)
{
	struct pending_pass *p = arg;
	struct lfs_journal j;
	int r = lfs_journal_open_named(&j, p->v->dirfd, name, p->v->cfg.uuid, false, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		lfs_fsck_problem(p->f, name, strerror(-r));
		return 0;
	}
	uint8_t key[LFS_JOURNAL_KEY_LEN];
	unsigned rejected = 0;
	r = lfs_keyring_copy_journal_key(p->kr, key);
	if (r == 0)
		r = lfs_journal_replay(&j, key, note_target, p->f, &rejected);
	sodium_memzero(key, sizeof(key));
	lfs_journal_close(&j);
	if (r < 0)
		lfs_fsck_problem(p->f, name, strerror(-r));
	p->rejected += rejected;
	return 0;
}

/* Without --repair nothing is written: the records of every journal (one
 * per host in shared mode) are only listed, so that their files are
 * reported as pending. */
static int list_pending(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr)
{
	struct pending_pass p = {.f = f, .v = v, .kr = kr};
	int r = lfs_journal_list(v->dirfd, list_one, &p);
	unsigned rejected = p.rejected;
	if (r < 0)
		lfs_fsck_problem(f, LFS_JOURNAL_FILE_NAME, strerror(-r));
	if (f->ntargets)
		lfs_fsck_note(
		    &f->rep,
		    "%u interrupted update(s) in the journal: completed at the next mount "
		    "or by 'lethefs fsck --repair'",
		    f->ntargets);
	if (rejected)
		lfs_fsck_note(&f->rep,
		              "%u journal record(s) do not authenticate: torn by a crash before "
		              "their update began, or not written by this vault; ignored (cleared "
		              "at the next mount)",
		              rejected);
	return r < 0 ? r : 0;
}

static int repair(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr)
{
	struct lfs_recovery rc;
	int r = lfs_recover_vault(v, kr, &rc);
	if (r < 0) {
		lfs_fsck_problem(f, LFS_JOURNAL_FILE_NAME, strerror(-r));
		return r;
	}
	lfs_fsck_note(&f->rep,
	              "recovery: %u update(s) completed, %u undone, %u gone, %u failed, %u "
	              "record(s) not authentic (cleared)",
	              rc.completed, rc.rolled_back, rc.gone, rc.failed, rc.rejected);
	if (rc.failed)
		lfs_fsck_problem(f, LFS_JOURNAL_FILE_NAME,
		                 "some interrupted updates could not be finished");
	return 0;
}

static void apply_legacy(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr, int data)
{
	char what[LFS_ROTJ_PATH_MAX + 8] = "";
	int e = lfs_rot_apply_legacy(v->dirfd, data, data, &f->fs.layout, kr, what, sizeof(what));
	if (e == -ENOENT)
		lfs_fsck_note(&f->rep, "no rotation journal of lethefs 0.1 here");
	else if (e < 0)
		lfs_fsck_problem(f, LFS_ROTATION_JOURNAL, strerror(-e));
	else
		lfs_fsck_note(&f->rep, "applied the rotation journal of lethefs 0.1 (%s)", what);
}

static void fsck_help(void)
{
	printf("Usage: lethefs fsck [SECRET OPTIONS] [--repair] [-v] [--json] VAULT\n"
	       "\n"
	       "Decrypt and authenticate every file name, directory id, symlink target,\n"
	       "extended attribute and content block of VAULT, and report each corrupt item\n"
	       "as 'CORRUPT <path>: <reason>' on standard output. Without --repair nothing is\n"
	       "modified: updates that a crash interrupted (records in lethefs.journal) are\n"
	       "reported as 'PENDING <path>', since the next mount completes them.\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP
	       "  --repair            first complete or undo the interrupted updates, as a\n"
	       "                      mount would (run it on an unmounted vault only)\n"
	       "  --apply-legacy-journal  with --repair: also apply a rotation journal left\n"
	       "                      by lethefs 0.1 (lethefs.rotation.journal), which\n"
	       "                      cannot be authenticated: only if that version crashed\n"
	       "                      during a rotation of this vault\n"
	       "  -v, --verbose       also list every item that checked out\n"
	       "  --json              one JSON object per line instead: each problem\n"
	       "                      ({\"type\":\"corrupt\"|\"pending\",\"path\",\"reason\"}),\n"
	       "                      notes, and a last {\"type\":\"summary\",\"clean\",...}\n"
	       "                      (docs/CLI-ABI.md)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "On a terminal a progress line (directories, files, bytes, problems so far)\n"
	       "is shown on standard error while the check runs.\n"
	       "\n"
	       "Exit codes: 0 clean, 3 wrong passphrase, 4 no vault, 5 corrupt vault files,\n"
	       "6 corruption found.\n");
}

int lfs_cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"verbose", no_argument, NULL, 'v'},
	    {"repair", no_argument, NULL, 'R'},
	    {"json", no_argument, NULL, 'j'},
	    {"apply-legacy-journal", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	struct fsck f;
	memset(&f, 0, sizeof(f));
	bool do_repair = false, legacy = false, json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		int handled = lfs_secret_option("fsck", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'v':
			f.verbose = true;
			break;
		case 'j':
			json = true;
			break;
		case 'R':
			do_repair = true;
			break;
		case 'J':
			legacy = true;
			break;
		case 'h':
			fsck_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("fsck", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("fsck", "expected exactly one VAULT argument");
	if (legacy && !do_repair)
		return lfs_cli_usage_error("fsck", "--apply-legacy-journal goes with --repair");
	lfs_fsck_report_init(&f.rep, json);
	struct lfs_vault v;
	struct lfs_keyring kr;
	int r = lfs_open_and_unlock(argv[optind], &src, &v, &kr);
	if (r != 0)
		return r;
	int data =
	    openat(v.dirfd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int dup_fd = data < 0 ? -1 : dup(data);
	if (data < 0 || lfs_fs_init(&f.fs, &kr, dup_fd, argv[optind]) < 0) {
		lfs_cli_error("vault %s has no usable data directory", argv[optind]);
		lfs_keyring_destroy(&kr);
		return LFS_EXIT_CORRUPT;
	}
	f.targets = calloc(MAX_PENDING, sizeof(*f.targets));
	struct stat dst;
	if (fstat(data, &dst) == 0) {
		f.owner_uid = dst.st_uid;
		f.owner_gid = dst.st_gid;
	}
	if (legacy)
		apply_legacy(&f, &v, &kr, data);
	else if (lfs_rotation_legacy_journal_exists(v.dirfd))
		lfs_fsck_problem(
		    &f, LFS_ROTATION_JOURNAL,
		    "a rotation journal of lethefs 0.1: not applied (it cannot be authenticated); "
		    "if the vault crashed during a rotation under that version, run fsck --repair "
		    "--apply-legacy-journal, else remove it");
	/* Repairing writes: no host may have the vault mounted meanwhile. */
	struct lfs_lease lease;
	if (do_repair && (r = lfs_cli_take_vault(&v, argv[optind], "fsck", &lease, false)) != 0) {
		close(data);
		free(f.targets);
		lfs_fs_destroy(&f.fs);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return r;
	}
	if (do_repair)
		repair(&f, &v, &kr);
	else
		list_pending(&f, &v, &kr);
	/* Staging first (with --repair, finishing what a crash left and
	 * shredding what expired), so that the walk knows the live ids. */
	lfs_fsck_staging(&f, &v, &kr, do_repair);
	lfs_fsck_check_dir(&f, data, "");
	if (do_repair)
		lfs_lease_release(&lease);
	close(data);
	free(f.targets);
	free(f.stage_live);
	struct fsck_counts n = counts(&f);
	lfs_fsck_summary(&f.rep, &n);
	lfs_fs_destroy(&f.fs);
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	return f.problems ? LFS_EXIT_FSCK_FOUND : LFS_EXIT_OK;
}
