/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the journal (journal/journal.c): records authenticate only
 * in their slot, of their vault, under their key; malformed paths are
 * refused; replay applies records oldest first and keeps the ones its
 * callback refuses; slots kept by failed updates are never reused. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../journal/journal.h"
#include "../../journal/target.h"

static uint8_t key[LFS_JOURNAL_KEY_LEN], uuid[16];

static struct lfs_journal_record *record(uint8_t kind, const char *path, size_t payload)
{
	struct lfs_journal_record *r = calloc(1, sizeof(*r));
	r->kind = kind;
	r->seq = 42;
	r->target.dev = 0x801;
	r->target.ino = 1234;
	r->target.handle_type = 1;
	r->target.handle_len = 8;
	test_fill(r->target.handle, 8, 5);
	r->target.path_len = (uint32_t)strlen(path);
	memcpy(r->target.path, path, r->target.path_len);
	r->payload_len = (uint32_t)payload;
	test_fill(r->payload, payload, 9);
	return r;
}

static void test_roundtrip_and_binding(void **state)
{
	(void)state;
	uint8_t *slot = malloc(LFS_JOURNAL_SLOT_LEN);
	struct lfs_journal_record *r = record(LFS_JK_TAIL, "abc/def", 5000),
	                          *b = calloc(1, sizeof(*b));
	assert_int_equal(lfs_journal_encode(key, uuid, 3, r, slot, LFS_JOURNAL_SLOT_LEN), 0);
	assert_int_equal(lfs_journal_decode(key, uuid, 3, slot, LFS_JOURNAL_SLOT_LEN, b), 0);
	assert_int_equal(b->kind, LFS_JK_TAIL);
	assert_int_equal(b->seq, 42);
	assert_int_equal(b->target.ino, 1234);
	assert_string_equal(b->target.path, "abc/def");
	assert_int_equal(b->payload_len, 5000);
	assert_memory_equal(b->payload, r->payload, 5000);
	/* Another slot, another vault, another key: not authentic. */
	assert_int_equal(lfs_journal_decode(key, uuid, 4, slot, LFS_JOURNAL_SLOT_LEN, b), -EBADMSG);
	uint8_t other[16];
	memcpy(other, uuid, 16);
	other[0] ^= 1;
	assert_int_equal(lfs_journal_decode(key, other, 3, slot, LFS_JOURNAL_SLOT_LEN, b),
	                 -EBADMSG);
	uint8_t k2[LFS_JOURNAL_KEY_LEN];
	memcpy(k2, key, sizeof(k2));
	k2[31] ^= 1;
	assert_int_equal(lfs_journal_decode(k2, uuid, 3, slot, LFS_JOURNAL_SLOT_LEN, b), -EBADMSG);
	/* Any changed byte of the record or its MAC. */
	size_t len = 184 + 7 + 5000 + 32;
	for (size_t i = 4; i < len; i += 97) {
		slot[i] ^= 0x10;
		int e = lfs_journal_decode(key, uuid, 3, slot, LFS_JOURNAL_SLOT_LEN, b);
		assert_true(e == -EBADMSG || e == -EINVAL);
		slot[i] ^= 0x10;
	}
	/* Torn: shorter than its lengths say. */
	assert_int_equal(lfs_journal_decode(key, uuid, 3, slot, len - 1, b), -EINVAL);
	/* A free slot. */
	memset(slot, 0, 4);
	assert_int_equal(lfs_journal_decode(key, uuid, 3, slot, LFS_JOURNAL_SLOT_LEN, b), -ENOENT);
	free(slot);
	free(r);
	free(b);
}

static void test_paths_that_leave_the_tree(void **state)
{
	(void)state;
	static const char *bad[] = {"/etc/passwd", "..", "a/../../b", "a//b", "./a", "a/.", "a/"};
	uint8_t *slot = malloc(LFS_JOURNAL_SLOT_LEN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lfs_journal_record *r = record(LFS_JK_TAIL, bad[i], 10);
		assert_int_equal(lfs_journal_encode(key, uuid, 0, r, slot, LFS_JOURNAL_SLOT_LEN),
		                 -EINVAL);
		free(r);
	}
	struct lfs_journal_record *r = record(LFS_JK_TAIL, "a/..b/c.d", 10);
	assert_int_equal(lfs_journal_encode(key, uuid, 0, r, slot, LFS_JOURNAL_SLOT_LEN), 0);
	free(r);
	r = record(0, "a", 10);
	assert_int_equal(lfs_journal_encode(key, uuid, 0, r, slot, LFS_JOURNAL_SLOT_LEN), -EINVAL);
	r->kind = LFS_JK_MAX + 1;
	assert_int_equal(lfs_journal_encode(key, uuid, 0, r, slot, LFS_JOURNAL_SLOT_LEN), -EINVAL);
	free(r);
	free(slot);
}

struct seen {
	uint64_t ino[64];
	unsigned n;
	uint64_t refuse; /* this ino's record is refused (kept) */
};

static int collect(void *arg, const struct lfs_journal_record *r)
{
	struct seen *s = arg;
	s->ino[s->n++] = r->target.ino;
	return r->target.ino == s->refuse ? -EIO : 0;
}

static void test_file_replay_keep(void **state)
{
	(void)state;
	char dir[] = "/tmp/lethefs-journal.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct lfs_journal j;
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, false, 16), -ENOENT);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	assert_int_equal(j.nslots, 16);
	unsigned slots[16];
	/* 16 updates in flight, the 5th and 9th fail and are kept; the rest
	 * end. */
	for (unsigned i = 0; i < 16; i++) {
		struct lfs_journal_record *r = record(LFS_JK_TAIL, "x", 100);
		r->target.ino = 100 + i;
		assert_int_equal(lfs_journal_begin(&j, key, r, false, &slots[i]), 0);
		free(r);
	}
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 8)
			lfs_journal_keep(&j, slots[i]);
		else if (i != 15)
			assert_int_equal(lfs_journal_end(&j, slots[i]), 0);
	}
	unsigned pending;
	assert_int_equal(lfs_journal_pending(&j, &pending), 0);
	assert_int_equal(pending, 3); /* two kept, one still in flight */
	lfs_journal_close(&j);

	/* A crash: the next open replays the three, oldest first; the one
	 * the callback refuses stays. A wrong uuid refuses the file. */
	uint8_t other[16];
	memcpy(other, uuid, 16);
	other[3] ^= 1;
	assert_int_equal(lfs_journal_open(&j, dfd, other, false, 16), -EINVAL);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, false, 16), 0);
	struct seen s = {.refuse = 108};
	unsigned rejected = 9;
	assert_int_equal(lfs_journal_replay(&j, key, collect, &s, &rejected), 2);
	assert_int_equal(rejected, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ino[0], 104);
	assert_int_equal(s.ino[1], 108);
	assert_int_equal(s.ino[2], 115);
	assert_int_equal(lfs_journal_pending(&j, &pending), 0);
	assert_int_equal(pending, 1);
	/* Under another key nothing authenticates: counted, then cleared. */
	uint8_t k2[LFS_JOURNAL_KEY_LEN];
	memset(k2, 7, sizeof(k2));
	s.n = 0;
	assert_int_equal(lfs_journal_replay(&j, k2, collect, &s, &rejected), 0);
	assert_int_equal(rejected, 1);
	assert_int_equal(s.n, 0);
	assert_int_equal(lfs_journal_clear_rejected(&j, k2), 1);
	assert_int_equal(lfs_journal_pending(&j, &pending), 0);
	assert_int_equal(pending, 0);
	lfs_journal_close(&j);

	/* Every slot kept: beginning fails instead of waiting forever. */
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, false, 16), 0);
	for (unsigned i = 0; i < 16; i++) {
		struct lfs_journal_record *r = record(LFS_JK_TAIL, "x", 10);
		assert_int_equal(lfs_journal_begin(&j, key, r, false, &slots[i]), 0);
		lfs_journal_keep(&j, slots[i]);
		free(r);
	}
	struct lfs_journal_record *r = record(LFS_JK_TAIL, "x", 10);
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &slots[0]), -ENOSPC);
	free(r);
	lfs_journal_close(&j);

	/* Not a regular file under the name: refused without being opened. */
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	assert_int_equal(mkfifoat(dfd, LFS_JOURNAL_FILE_NAME, 0600), 0);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), -EINVAL);
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	close(dfd);
	rmdir(dir);
}

/* Records with bulk (block images, FORMAT.md 12.8): the bulk rides after
 * the MAC in a large slot; bulk_len is authenticated, the bulk is not;
 * what does not fit is refused. */
static void test_large_records(void **state)
{
	(void)state;
	uint8_t *slot = malloc(LFS_JOURNAL_LARGE_LEN);
	uint8_t *bulk = malloc(LFS_JOURNAL_LARGE_LEN);
	test_fill(bulk, LFS_JOURNAL_LARGE_LEN, 3);
	struct lfs_journal_record *r = record(LFS_JK_OVERWRITE, "a/b", 64),
	                          *b = calloc(1, sizeof(*b));
	size_t room = LFS_JOURNAL_BULK_ROOM(3, 64);
	r->bulk = bulk;
	r->bulk_len = (uint32_t)room;
	/* Not in a small slot's worth of bytes. */
	assert_int_equal(lfs_journal_encode(key, uuid, 20, r, slot, LFS_JOURNAL_SLOT_LEN), -EINVAL);
	assert_int_equal(lfs_journal_encode(key, uuid, 20, r, slot, LFS_JOURNAL_LARGE_LEN), 0);
	assert_int_equal(lfs_journal_decode(key, uuid, 20, slot, LFS_JOURNAL_LARGE_LEN, b), 0);
	assert_int_equal(b->bulk_len, room);
	assert_memory_equal(b->bulk, bulk, room);
	/* The bulk is not MAC'd (recovery authenticates each block itself)... */
	slot[LFS_JOURNAL_LARGE_LEN - (LFS_JOURNAL_LARGE_LEN - room) / 2 - 1] ^= 1;
	size_t last = 184 + 3 + 64 + LFS_JOURNAL_MAC_LEN + room - 1;
	slot[last] ^= 0x40;
	assert_int_equal(lfs_journal_decode(key, uuid, 20, slot, LFS_JOURNAL_LARGE_LEN, b), 0);
	/* ...but its length is: a record cannot be stretched or cut. */
	slot[176] ^= 1;
	assert_int_not_equal(lfs_journal_decode(key, uuid, 20, slot, LFS_JOURNAL_LARGE_LEN, b), 0);
	slot[176] ^= 1;
	assert_int_equal(lfs_journal_decode(key, uuid, 20, slot, LFS_JOURNAL_LARGE_LEN, b), 0);
	/* One byte more than the slot leaves: refused, never cut. */
	r->bulk_len = (uint32_t)room + 1;
	assert_int_equal(lfs_journal_encode(key, uuid, 20, r, slot, LFS_JOURNAL_LARGE_LEN),
	                 -EINVAL);
	/* A length field that claims more than the slot holds. */
	r->bulk_len = (uint32_t)room;
	assert_int_equal(lfs_journal_encode(key, uuid, 20, r, slot, LFS_JOURNAL_LARGE_LEN), 0);
	slot[176] = 0xff;
	slot[177] = 0xff;
	slot[178] = 0xff;
	slot[179] = 0x7f;
	assert_int_equal(lfs_journal_decode(key, uuid, 20, slot, LFS_JOURNAL_LARGE_LEN, b),
	                 -EINVAL);

	/* In a journal: image records are replayed before older records of
	 * other kinds, and the slots of records not yet applied stay reserved
	 * while the callback writes records of its own. */
	char dir[] = "/tmp/lethefs-journal.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct lfs_journal j;
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	assert_int_equal(j.nlarge, LFS_JOURNAL_LARGE_FOR(16));
	unsigned s1, s2, s3;
	struct lfs_journal_record *t = record(LFS_JK_TAIL, "x", 10);
	t->target.ino = 1;
	assert_int_equal(lfs_journal_begin(&j, key, t, false, &s1), 0);
	r->target.ino = 2;
	r->bulk_len = 4136;
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &s2), 0);
	assert_true(s2 >= j.nslots);
	t->target.ino = 3;
	assert_int_equal(lfs_journal_begin(&j, key, t, false, &s3), 0);
	r->bulk_len = (uint32_t)room + 1;
	unsigned s4;
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &s4), -E2BIG);
	lfs_journal_close(&j); /* a crash: all three stay */
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	struct seen seen = {.refuse = 0};
	unsigned rejected;
	assert_int_equal(lfs_journal_replay(&j, key, collect, &seen, &rejected), 3);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.ino[0], 2);
	assert_int_equal(seen.ino[1], 1);
	assert_int_equal(seen.ino[2], 3);
	lfs_journal_close(&j);

	/* A journal without large slots (lethefs 0.2) is made anew with them
	 * when empty, kept while it holds a record. */
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	lfs_journal_close(&j);
	int fd = openat(dfd, LFS_JOURNAL_FILE_NAME, O_RDWR);
	uint8_t zero[4] = {0};
	assert_int_equal(pwrite(fd, zero, 4, 20), 4);
	assert_int_equal(pwrite(fd, zero, 4, 40), 4);
	assert_int_equal(ftruncate(fd, 4096 + 16 * (off_t)LFS_JOURNAL_SLOT_LEN), 0);
	close(fd);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, false, 16), 0);
	assert_int_equal(j.nlarge, 0);
	t->target.ino = 9;
	assert_int_equal(lfs_journal_begin(&j, key, t, false, &s1), 0);
	lfs_journal_close(&j);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	assert_int_equal(j.nlarge, 0); /* a record is pending: kept */
	seen.n = 0;
	assert_int_equal(lfs_journal_replay(&j, key, collect, &seen, &rejected), 1);
	lfs_journal_close(&j);
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	assert_int_equal(j.nlarge, LFS_JOURNAL_LARGE_FOR(16)); /* empty: made anew */
	lfs_journal_close(&j);
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	close(dfd);
	rmdir(dir);
	free(t);
	free(r);
	free(b);
	free(bulk);
	free(slot);
}

static int count_name(const char *name, void *arg)
{
	int *n = arg;
	if (!strcmp(name, LFS_JOURNAL_FILE_NAME) || !strcmp(name, LFS_JOURNAL_FILE_NAME ".lab2"))
		(*n)++;
	else
		(*n) += 100; /* a name that is no journal */
	return 0;
}

/* Shared mode's per-host journals (docs/FORMAT.md 13.3): the same
 * geometry as lethefs.journal (large slots), the same reshaping of an
 * empty journal under its own name, records that carry bulk, and a
 * listing that finds every journal and nothing else. */
static void test_named_journals(void **state)
{
	(void)state;
	char dir[] = "/tmp/lethefs-journal.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct lfs_journal j;
	const char *name = LFS_JOURNAL_FILE_NAME ".lab2";
	assert_false(lfs_journal_name_ok(LFS_JOURNAL_FILE_NAME "."));
	assert_false(lfs_journal_name_ok(LFS_JOURNAL_FILE_NAME "..x"));
	assert_false(lfs_journal_name_ok(LFS_JOURNAL_FILE_NAME ".a/b"));
	assert_false(lfs_journal_name_ok("lethefs.journalx"));
	assert_int_equal(lfs_journal_open_named(&j, dfd, "lethefs.journal.a/b", uuid, true, 16),
	                 -EINVAL);
	assert_int_equal(lfs_journal_open_named(&j, dfd, name, uuid, true, 16), 0);
	assert_int_equal(j.nslots, 16);
	assert_int_equal(j.nlarge, LFS_JOURNAL_LARGE_FOR(16));
	struct stat st;
	assert_int_equal(fstat(j.fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, LFS_JOURNAL_HDR_LEN + 16ull * LFS_JOURNAL_SLOT_LEN +
	                                           (uint64_t)j.nlarge * LFS_JOURNAL_LARGE_LEN);
	/* A record with bulk goes to a large slot. */
	struct lfs_journal_record *r = record(LFS_JK_OVERWRITE, "f", 64);
	uint8_t *bulk = malloc(100000);
	test_fill(bulk, 100000, 3);
	r->bulk = bulk;
	r->bulk_len = 100000;
	unsigned slot;
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &slot), 0);
	assert_true(slot >= 16);
	assert_int_equal(lfs_journal_end(&j, slot), 0);
	free(bulk);
	free(r);
	lfs_journal_close(&j);
	/* Empty and wanting more slots: made anew, under its own name. */
	assert_int_equal(lfs_journal_open_named(&j, dfd, name, uuid, true, 40), 0);
	assert_int_equal(j.nslots, 40);
	lfs_journal_close(&j);
	assert_int_equal(fstatat(dfd, LFS_JOURNAL_FILE_NAME, &st, 0), -1);
	/* Holding a record: kept as it is, whatever a mount wants. */
	assert_int_equal(lfs_journal_open_named(&j, dfd, name, uuid, true, 40), 0);
	r = record(LFS_JK_RENAME, "f", 12);
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &slot), 0);
	free(r);
	lfs_journal_close(&j);
	assert_int_equal(lfs_journal_open_named(&j, dfd, name, uuid, true, 80), 0);
	assert_int_equal(j.nslots, 40);
	lfs_journal_close(&j);
	/* The listing: this journal and lethefs.journal, not other files. */
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	lfs_journal_close(&j);
	int fd = openat(dfd, "lethefs.journalx", O_CREAT | O_WRONLY, 0600);
	close(fd);
	int n = 0;
	assert_int_equal(lfs_journal_list(dfd, count_name, &n), 2);
	assert_int_equal(n, 2);
	unlinkat(dfd, "lethefs.journalx", 0);
	unlinkat(dfd, name, 0);
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	close(dfd);
	rmdir(dir);
}

/* lfs_journal_settle: a record cleared after it may have reached the disk
 * (synced itself, or the journal synced while it was there) leaves a
 * clearing to make durable, once; one that no sync saw leaves none. */
static void test_settle_stale_clearings(void **state)
{
	(void)state;
	char dir[] = "/tmp/lethefs-journal.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct lfs_journal j;
	assert_int_equal(lfs_journal_open(&j, dfd, uuid, true, 16), 0);
	struct lfs_journal_record *r = record(LFS_JK_TAIL, "f", 100);
	unsigned a, b;
	/* Never synced: nothing to settle. */
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &a), 0);
	assert_int_equal(lfs_journal_end(&j, a), 0);
	assert_false(j.stale);
	/* Synced by its own begin. */
	assert_int_equal(lfs_journal_begin(&j, key, r, true, &a), 0);
	assert_false(j.stale);
	assert_int_equal(lfs_journal_end(&j, a), 0);
	assert_true(j.stale);
	assert_int_equal(lfs_journal_settle(&j), 0);
	assert_false(j.stale);
	assert_int_equal(lfs_journal_settle(&j), 0);
	/* Not synced itself, but in its slot while another record was. */
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &a), 0);
	assert_int_equal(lfs_journal_begin(&j, key, r, true, &b), 0);
	assert_int_equal(lfs_journal_end(&j, b), 0);
	assert_int_equal(lfs_journal_settle(&j), 0);
	assert_int_equal(lfs_journal_end(&j, a), 0);
	assert_true(j.stale);
	assert_int_equal(lfs_journal_settle(&j), 0);
	/* Or while the journal was synced as a whole. */
	assert_int_equal(lfs_journal_begin(&j, key, r, false, &a), 0);
	assert_int_equal(lfs_journal_sync(&j), 0);
	assert_int_equal(lfs_journal_end(&j, a), 0);
	assert_true(j.stale);
	assert_int_equal(lfs_journal_settle(&j), 0);
	assert_false(j.stale);
	free(r);
	lfs_journal_close(&j);
	unlinkat(dfd, LFS_JOURNAL_FILE_NAME, 0);
	close(dfd);
	rmdir(dir);
}

/* A file published by link and unlink while open (GlusterFS's way without
 * RENAME_NOREPLACE): its descriptor's path is the removed temporary name,
 * so the record names "d/.tmp (deleted)"; without the file handle (another
 * host) the record's target is still found, by its inode number in the
 * recorded directory; a file with another inode number is not taken. */
static void test_target_published_while_open(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-journal-target.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int data = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(data >= 0);
	assert_int_equal(mkdirat(data, "d", 0700), 0);
	int dfd = openat(data, "d", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	int fd = openat(dfd, ".tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	int other = openat(dfd, "other", O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(other >= 0);
	close(other);
	assert_int_equal(linkat(dfd, ".tmp", dfd, "final", 0), 0);
	assert_int_equal(unlinkat(dfd, ".tmp", 0), 0);
	struct lfs_journal_target t;
	assert_int_equal(lfs_journal_target_of(fd, dir, false, &t), 0);
	assert_string_equal(t.path, "d/.tmp (deleted)");
	int got = lfs_journal_target_open(&t, data, -1, O_RDWR);
	assert_true(got >= 0);
	struct stat a, b;
	assert_int_equal(fstat(got, &a), 0);
	assert_int_equal(fstat(fd, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	close(got);
	/* Once the file is gone, nothing else is taken for it. */
	assert_int_equal(unlinkat(dfd, "final", 0), 0);
	assert_int_equal(lfs_journal_target_open(&t, data, -1, O_RDWR), -ENOENT);
	close(fd);
	assert_int_equal(unlinkat(dfd, "other", 0), 0);
	close(dfd);
	assert_int_equal(unlinkat(data, "d", AT_REMOVEDIR), 0);
	close(data);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fill(key, sizeof(key), 1);
	test_fill(uuid, sizeof(uuid), 77);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_binding),
	    cmocka_unit_test(test_paths_that_leave_the_tree),
	    cmocka_unit_test(test_file_replay_keep),
	    cmocka_unit_test(test_large_records),
	    cmocka_unit_test(test_named_journals),
	    cmocka_unit_test(test_target_published_while_open),
	    cmocka_unit_test(test_settle_stale_clearings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
