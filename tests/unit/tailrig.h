/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the data path's crash sweeps without a mount
 * (test_tail_crash*.c): the scenarios (tail updates, fs/fileio_tail.c;
 * blocks rewritten in place, fs/overwrite.c; a rotation's conversion of a
 * file and its undo, rotation/), for files of either header version (a
 * format-1 file, or a format-2 file whose 152-byte header with its inode
 * record moves every block); each scenario's file prepared, its operation
 * run in a child under the crash rig (crashrig.h), and the check that after
 * recovery the file reads back as it was before the operation or as it is
 * after it, with every block authentic. Header-only, like crashrig.h. */
#ifndef LETHEFS_TAILRIG_H
#define LETHEFS_TAILRIG_H

#include "crashrig.h"

#include "../../common/fileutil.h"
#include "../../fs/fileio.h"
#include "../../fs/obj2.h"
#include "../../journal/target.h"
#include "../../rotation/record.h"
#include "../../rotation/refile.h"

/* The file through a fresh inode (nothing cached from before). */
static inline struct lfs_inode *open_file(struct rig *g, int *fd)
{
	return rig_inode_at(g, g->data_fd, "f", O_RDWR | O_CREAT, fd);
}

static inline void put_file(struct rig *g, struct lfs_inode *in, int fd)
{
	lfs_inode_forget(&g->fs, in, 1);
	close(fd);
}

/* The header version of the files of the current sweep. */
static unsigned version = LFS_FILE_V1;

/* A format-2 file is born with its header (its record), so it exists
 * before its first write; a format-1 file has none until then. */
static inline void make_file(struct rig *g)
{
	if (version != LFS_FILE_V2)
		return;
	rig_new_file2(g, g->data_fd, "f");
}

/* The file's layout, from its header. */
static inline void file_layout(struct rig *g, int fd, struct lfs_layout *l)
{
	uint8_t head[5];
	size_t got = 0;
	assert_int_equal(lfs_pread_full(fd, head, sizeof(head), 0, &got), 0);
	lfs_layout_init(l, g->kr.cipher,
	                lfs_header_version(head, got) == LFS_FILE_V2 ? LFS_FILE_V2 : LFS_FILE_V1);
	assert_int_equal(l->version, version);
}

/* --- scenarios -------------------------------------------------------- */

struct scenario {
	const char *name;
	size_t initial; /* bytes written (and fsync'd) before */
	char op;        /* 'w' write, 't' truncate, 'r' conversion to epoch 2, 'u' its undo */
	uint64_t off;   /* write offset, or the truncate's size */
	size_t len;     /* write length */
};

static const struct scenario scenarios[] = {
    {"append inside the last block", 5000, 'w', 5000, 2000},
    {"append across blocks", 5000, 'w', 5000, 10000},
    {"append to an aligned file", 8192, 'w', 8192, 100},
    {"write over the end", 9000, 'w', 6000, 9000},
    {"write after a small gap", 5000, 'w', 100000, 3000},
    {"write after a hole", 5000, 'w', 20u << 20, 3000},
    {"first write", 0, 'w', 0, 10000},
    {"first write at an offset", 0, 'w', 9000, 100},
    {"cut inside a block", 20000, 't', 7000, 0},
    {"cut at a block boundary", 20000, 't', 8192, 0},
    {"extend by truncate", 5000, 't', 50000, 0},
    {"extend by truncate past 8 MiB", 5000, 't', 9u << 20, 0},
    {"cut to zero", 20000, 't', 0, 0},
    {"overwrite one block in place", 40000, 'w', 8192, 4096},
    {"overwrite across blocks, unaligned", 40000, 'w', 3000, 9000},
    {"overwrite the last block in place", 40000, 'w', 36000, 4000},
    {"overwrite 300 blocks (several records)", 1300000, 'w', 4096, 300 * 4096},
    /* Whole blocks sealed on the sealing pool (fs/fileio_seal.c). */
    {"append 300 blocks, unaligned", 5000, 'w', 5000, 300 * 4096 + 123},
    {"overwrite 300 blocks across the end, unaligned", 1300000, 'w', 1000000, 300 * 4096},
    {"convert to a new epoch", 40000, 'r', 0, 0},
    {"convert 300 blocks to a new epoch", 1300000, 'r', 0, 0},
    {"undo a conversion whose new header failed", 40000, 'u', 0, 0},
    {"undo a conversion of 300 blocks", 1300000, 'u', 0, 0},
};

static inline uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 12));
	return p;
}

/* The plaintext the file must hold after the scenario's operation. */
static inline uint8_t *expected_after(const struct scenario *s, size_t *len)
{
	uint8_t *old = pattern(s->initial, 1);
	size_t n = s->op == 'w' ? (s->off + s->len > s->initial ? s->off + s->len : s->initial)
	                        : (size_t)s->off;
	if (s->op == 'r' || s->op == 'u')
		n = s->initial;
	uint8_t *out = calloc(1, n ? n : 1);
	memcpy(out, old, s->initial < n ? s->initial : n);
	if (s->op == 'w') {
		uint8_t *w = pattern(s->len, 99);
		memcpy(out + s->off, w, s->len);
		free(w);
	}
	free(old);
	*len = n;
	return out;
}

static inline void half_convert(struct rig *g, int fd);

static inline void prepare(struct rig *g, const struct scenario *s)
{
	unlinkat(g->data_fd, "f", 0);
	make_file(g);
	rig_fs(g);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	if (s->initial) {
		uint8_t *old = pattern(s->initial, 1);
		assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)old, s->initial, 0),
		                 (ssize_t)s->initial);
		free(old);
	}
	assert_int_equal(fsync(fd), 0);
	if (s->op == 'u')
		half_convert(g, fd);
	put_file(g, in, fd);
	rig_fs_done(g);
}

/* A conversion's two headers and its record's slot. */
struct conv {
	uint8_t old_raw[LFS_FILE_HDR_MAX], new_raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header oh, nh;
	unsigned slot;
};

/* What a rotation does to one file (rotation/convert_file.c): a record
 * with both headers, the blocks re-sealed in place under block records,
 * the new header. With keep, the record stays (the caller decides). */
static inline bool convert_as(struct rig *g, int fd, struct conv *c, bool keep)
{
	uint8_t *old_raw = c->old_raw, *new_raw = c->new_raw;
	struct lfs_file_header oh, nh;
	struct lfs_irec rec;
	struct lfs_layout l;
	const struct lfs_epoch_keys *k;
	size_t len = lfs_header_len(version);
	if (pread(fd, old_raw, len, 0) != (ssize_t)len || lfs_header_parse(old_raw, len, &oh) < 0 ||
	    oh.version != version)
		return false;
	if (lfs_keyring_get(&g->kr, oh.epoch, &k) < 0)
		return false;
	int e = lfs_header_verify(old_raw, &oh, k, &rec);
	lfs_keyring_put(&g->kr);
	if (e < 0)
		return false;
	lfs_header_new(&nh, g->fs.layout.cipher, 2, version);
	nh.flags = oh.flags;
	if (lfs_keyring_get(&g->kr, 2, &k) < 0)
		return false;
	e = lfs_header_encode(&nh, k, &rec, new_raw);
	lfs_keyring_put(&g->kr);
	if (e != (int)len)
		return false;
	unsigned slot;
	c->oh = oh;
	c->nh = nh;
	if (lfs_rot_record_begin(&g->fs, LFS_JK_ROTATE_FILE, fd, "f", old_raw, len, new_raw, len,
	                         &slot) < 0)
		return false;
	c->slot = slot;
	struct lfs_journal_target t;
	uint8_t key[LFS_JOURNAL_KEY_LEN];
	lfs_journal_target_of(fd, g->data_path, g->fs.handle_mount_fd >= 0, &t);
	lfs_keyring_copy_journal_key(&g->kr, key);
	struct lfs_overwriter w = {.journal = &g->journal, .key = key, .target = &t, .kr = &g->kr};
	lfs_layout_init(&l, g->fs.layout.cipher, version);
	if (lfs_refile(&l, &g->kr, &w, fd, &oh, &nh, new_raw, false, NULL, NULL, NULL) < 0)
		return false;
	if (!keep)
		lfs_rot_record_end(&g->fs, slot);
	return true;
}

static inline bool convert(struct rig *g, int fd)
{
	struct conv c;
	return convert_as(g, fd, &c, false);
}

/* Scenario 'u': what a conversion leaves when its new header could not be
 * written (every block under the new header, the old header on disk, the
 * record kept), made by prepare; the operation is the undo the live mount
 * runs then (convert_file.c: the same re-sealing with the headers
 * swapped), which a crash or an error may cut anywhere. */
static struct conv half;

static inline void half_convert(struct rig *g, int fd)
{
	assert_true(convert_as(g, fd, &half, true));
	size_t len = lfs_header_len(version);
	assert_int_equal(pwrite(fd, half.old_raw, len, 0), (ssize_t)len);
	assert_int_equal(fdatasync(fd), 0);
}

static inline bool undo(struct rig *g, int fd)
{
	struct lfs_journal_target t;
	uint8_t key[LFS_JOURNAL_KEY_LEN];
	struct lfs_layout l;
	lfs_journal_target_of(fd, g->data_path, g->fs.handle_mount_fd >= 0, &t);
	lfs_keyring_copy_journal_key(&g->kr, key);
	struct lfs_overwriter w = {.journal = &g->journal, .key = key, .target = &t, .kr = &g->kr};
	lfs_layout_init(&l, g->fs.layout.cipher, version);
	if (lfs_refile(&l, &g->kr, &w, fd, &half.nh, &half.oh, half.old_raw, true, NULL, NULL,
	               NULL) < 0)
		return false;
	lfs_rot_record_end(&g->fs, half.slot);
	return true;
}

/* The scenario's operation on the file, opened before the calls count. */
struct tail_op {
	const struct scenario *s;
	int fd;
	struct lfs_inode *in;
};

static inline void tail_open(struct rig *g, void *ctx)
{
	struct tail_op *t = ctx;
	t->in = open_file(g, &t->fd);
}

static inline bool tail_run(struct rig *g, void *ctx)
{
	struct tail_op *t = ctx;
	const struct scenario *s = t->s;
	if (s->op == 'w') {
		uint8_t *w = pattern(s->len, 99);
		return lfs_fileio_write(&g->fs, t->in, t->fd, (char *)w, s->len, s->off) ==
		       (ssize_t)s->len;
	}
	if (s->op == 'r')
		return convert(g, t->fd);
	if (s->op == 'u')
		return undo(g, t->fd);
	return lfs_fileio_truncate(&g->fs, t->in, t->fd, s->off) == 0;
}

/* Runs the operation in a child with the given fault; returns the child's
 * exit status (0: the operation succeeded, 1: it failed, 99: crashed) and
 * the number of wrapped calls it made. */
static inline int run_op(struct rig *g, const struct scenario *s, int at, enum fault kind,
                         int *ncalls)
{
	struct tail_op t = {.s = s, .fd = -1};
	const struct rig_op op = {.setup = tail_open, .run = tail_run, .ctx = &t};
	return rig_run(g, &op, at, kind, ncalls);
}

/* Whether every 4 KiB block of got is the old or the new one. A write that
 * overwrites existing blocks before it grows the file rewrites them in
 * place (FORMAT.md: atomic per block, like a write(2) on ext4); only the
 * change of the file's end is atomic as a whole. */
static inline bool block_mix(const uint8_t *got, const uint8_t *old, const uint8_t *new, size_t len)
{
	for (size_t at = 0; at < len; at += LFS_BLOCK_SIZE) {
		size_t n = len - at < LFS_BLOCK_SIZE ? len - at : LFS_BLOCK_SIZE;
		if (memcmp(got + at, old + at, n) != 0 && memcmp(got + at, new + at, n) != 0)
			return false;
	}
	return true;
}

/* Recovery, then the file must be exactly old or new and authentic.
 * Returns 0 for old, 1 for new. */
static inline int check_file(struct rig *g, const struct scenario *s, const char *what, int at)
{
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	assert_int_equal(lfs_recover(&rc), 0);
	unsigned pending;
	assert_int_equal(lfs_journal_pending(&g->journal, &pending), 0);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	uint64_t bad = 0;
	long nbad = lfs_fileio_verify(&g->fs, in, fd, &bad);
	struct stat st;
	struct lfs_layout l;
	assert_int_equal(fstat(fd, &st), 0);
	file_layout(g, fd, &l);
	uint64_t plain;
	lfs_plain_size(&l, (uint64_t)st.st_size, &plain);
	uint8_t *got = malloc(plain ? plain : 1);
	ssize_t n = plain ? lfs_fileio_read(&g->fs, in, fd, (char *)got, plain, 0) : 0;
	size_t new_len;
	uint8_t *want_new = expected_after(s, &new_len);
	uint8_t *want_old = pattern(s->initial, 1);
	int side = -1;
	if (n == (ssize_t)s->initial && memcmp(got, want_old, s->initial) == 0)
		side = 0;
	else if (n == (ssize_t)new_len && memcmp(got, want_new, new_len) == 0)
		side = 1;
	else if (n == (ssize_t)s->initial && block_mix(got, want_old, want_new, s->initial))
		side = 0; /* the in-place part of a write is atomic per block */
	if (nbad != 0 || side < 0 || pending != 0)
		fail_msg("v%u %s, %s at call %d: %ld bad blocks (first %llu), read %zd bytes, "
		         "%s, %u records pending",
		         version, s->name, what, at, nbad, (unsigned long long)bad, n,
		         side < 0 ? "neither old nor new" : "ok", pending);
	free(got);
	free(want_new);
	free(want_old);
	put_file(g, in, fd);
	rig_fs_done(g);
	return side;
}

#endif
