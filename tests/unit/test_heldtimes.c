/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the times a rotation's conversion holds (fs/heldtimes.c):
 * a stat whose backing fstat came before the conversion put the times
 * back is corrected however late its reply is built (it was only within
 * 5 s of the end: the first test sleeps past that), a stat taken after the
 * end is not read again, directories get the same, and a stat of a file
 * being converted from format 1 waits for the conversion. */
#define _GNU_SOURCE
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../fs/heldtimes.h"

struct rig {
	char dir[64];
	char path[96];
	int fd; /* O_PATH, as an inode's */
	struct lfs_inode in;
};

static const struct timespec T0 = {1000000000, 0}; /* the plaintext times */

static void rig_init(struct rig *r, bool dir)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/lethefs-heldtimes.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/o", r->dir);
	if (dir) {
		assert_int_equal(mkdir(r->path, 0700), 0);
	} else {
		int w = open(r->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(w >= 0);
		close(w);
	}
	r->fd = open(r->path, O_PATH);
	assert_true(r->fd >= 0);
	struct timespec ts[2] = {T0, T0};
	assert_int_equal(utimensat(r->fd, "", ts, AT_EMPTY_PATH), 0);
	pthread_mutex_init(&r->in.meta_lock, NULL);
	pthread_rwlock_init(&r->in.io_lock, NULL);
	r->in.fmt = 2;
}

static void rig_free(struct rig *r)
{
	close(r->fd);
	pthread_mutex_destroy(&r->in.meta_lock);
	pthread_rwlock_destroy(&r->in.io_lock);
	if (unlink(r->path) < 0)
		assert_int_equal(rmdir(r->path), 0);
	assert_int_equal(rmdir(r->dir), 0);
}

static void fstat_fd(int fd, struct stat *st)
{
	assert_int_equal(fstatat(fd, "", st, AT_EMPTY_PATH), 0);
}

/* What a conversion does to the backing object: its times move. */
static void convert(struct rig *r)
{
	struct stat st;
	fstat_fd(r->fd, &st);
	lfs_times_hold(&r->in, &st);
	assert_int_equal(utimensat(r->fd, "", NULL, AT_EMPTY_PATH), 0); /* now */
}

static void check_late_stat(bool dir)
{
	struct rig r;
	rig_init(&r, dir);
	convert(&r);
	uint64_t mark = lfs_times_mark();
	struct stat st;
	fstat_fd(r.fd, &st); /* in the middle of the conversion */
	assert_true(st.st_mtim.tv_sec != T0.tv_sec);
	assert_int_equal(lfs_times_release(&r.in, r.fd), 0);
	/* The reply built long after the end: past the old 5 s window. */
	struct timespec late = {5, 300 * 1000 * 1000};
	nanosleep(&late, NULL);
	lfs_times_settle(&r.in, r.fd, &st, mark);
	lfs_times_apply(&r.in, r.fd, &st, mark);
	assert_int_equal(st.st_mtim.tv_sec, T0.tv_sec);
	assert_int_equal(st.st_atim.tv_sec, T0.tv_sec);
	rig_free(&r);
}

static void test_stat_before_end_corrected_however_late(void **state)
{
	(void)state;
	check_late_stat(false);
}

static void test_directory_stat_before_end_corrected(void **state)
{
	(void)state;
	check_late_stat(true);
}

static void test_stat_after_end_not_read_again(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, false);
	convert(&r);
	assert_int_equal(lfs_times_release(&r.in, r.fd), 0);
	uint64_t mark = lfs_times_mark();
	struct stat st;
	fstat_fd(r.fd, &st); /* after the end: the times put back */
	/* A later change, not a conversion's: the stat keeps what it read
	 * (no second fstat for every stat of a converted object). */
	struct timespec ts[2] = {{2000000000, 0}, {2000000000, 0}};
	assert_int_equal(utimensat(r.fd, "", ts, AT_EMPTY_PATH), 0);
	lfs_times_settle(&r.in, r.fd, &st, mark);
	lfs_times_apply(&r.in, r.fd, &st, mark);
	assert_int_equal(st.st_mtim.tv_sec, T0.tv_sec);
	rig_free(&r);
}

static void test_held_times_shown_while_held(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, false);
	convert(&r);
	uint64_t mark = lfs_times_mark();
	struct stat st;
	fstat_fd(r.fd, &st);
	lfs_times_settle(&r.in, r.fd, &st, mark);
	lfs_times_apply(&r.in, r.fd, &st, mark);
	assert_int_equal(st.st_mtim.tv_sec, T0.tv_sec);
	assert_int_equal(lfs_times_release(&r.in, r.fd), 0);
	rig_free(&r);
}

/* The conversion from format 1, on a thread of its own: takes the
 * io_lock, holds the times, says so, changes the file (its size here),
 * becomes of format 2, puts the times back. */
struct upconv {
	struct rig *r;
	pthread_barrier_t started;
};

static void *upconvert(void *arg)
{
	struct upconv *u = arg;
	struct rig *r = u->r;
	pthread_rwlock_wrlock(&r->in.io_lock);
	convert(r);
	pthread_barrier_wait(&u->started);
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	int w = open(r->path, O_WRONLY);
	if (w < 0 || write(w, "format 2", 8) != 8)
		abort();
	close(w);
	pthread_mutex_lock(&r->in.meta_lock);
	r->in.fmt = 2;
	pthread_mutex_unlock(&r->in.meta_lock);
	if (lfs_times_release(&r->in, r->fd) < 0)
		abort();
	pthread_rwlock_unlock(&r->in.io_lock);
	return NULL;
}

static void test_stat_waits_for_format1_conversion(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, false);
	r.in.fmt = 1;
	struct upconv u = {.r = &r};
	pthread_barrier_init(&u.started, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, upconvert, &u), 0);
	pthread_barrier_wait(&u.started);
	uint64_t mark = lfs_times_mark();
	struct stat st;
	fstat_fd(r.fd, &st); /* before the conversion changed the file */
	assert_int_equal(st.st_size, 0);
	lfs_times_settle(&r.in, r.fd, &st, mark); /* waits for the thread */
	lfs_times_apply(&r.in, r.fd, &st, mark);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&u.started);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(st.st_mtim.tv_sec, T0.tv_sec);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_before_end_corrected_however_late),
	    cmocka_unit_test(test_directory_stat_before_end_corrected),
	    cmocka_unit_test(test_stat_after_end_not_read_again),
	    cmocka_unit_test(test_held_times_shown_while_held),
	    cmocka_unit_test(test_stat_waits_for_format1_conversion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
