/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the daemon's own /dev/fuse I/O (fs/rawio.c): which kill
 * flags a raw request carries, that a short or inconsistent request sets
 * none, and that only the INIT reply to an INIT that offered
 * HANDLE_KILLPRIV_V2 is patched, and only with that flag. */
#include "testutil.h"

#include "../../fs/rawio.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/fuse.h>

/* A raw request: header then arg, with len as the header says (hlen 0:
 * the real length). */
static size_t request(uint8_t *buf, uint32_t opcode, uint64_t unique, const void *arg, size_t alen,
                      uint32_t hlen)
{
	struct fuse_in_header h = {.opcode = opcode, .unique = unique, .nodeid = 2};
	size_t n = sizeof(h) + alen;
	h.len = hlen ? hlen : (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), arg, alen);
	return n;
}

static void test_write_kill_flag(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct fuse_write_in w = {.size = 4096, .write_flags = FUSE_WRITE_KILL_SUIDGID};
	lfs_rawio_reset(true);
	lfs_rawio_saw_request(buf, request(buf, FUSE_WRITE, 7, &w, sizeof(w), 0));
	assert_true(lfs_rawio_kill_suidgid());
	/* the next request without the flag clears it */
	w.write_flags = FUSE_WRITE_CACHE;
	lfs_rawio_saw_request(buf, request(buf, FUSE_WRITE, 8, &w, sizeof(w), 0));
	assert_false(lfs_rawio_kill_suidgid());
	/* a request of another kind clears it too */
	w.write_flags = FUSE_WRITE_KILL_SUIDGID;
	lfs_rawio_saw_request(buf, request(buf, FUSE_WRITE, 9, &w, sizeof(w), 0));
	assert_true(lfs_rawio_kill_suidgid());
	struct fuse_getattr_in g = {0};
	lfs_rawio_saw_request(buf, request(buf, FUSE_GETATTR, 10, &g, sizeof(g), 0));
	assert_false(lfs_rawio_kill_suidgid());
	/* short: the flag is not read past the request */
	lfs_rawio_saw_request(buf, request(buf, FUSE_WRITE, 11, &w, sizeof(w) - 1, 0));
	assert_false(lfs_rawio_kill_suidgid());
	/* a header whose length is not what was read */
	lfs_rawio_saw_request(buf, request(buf, FUSE_WRITE, 12, &w, sizeof(w), 200));
	assert_false(lfs_rawio_kill_suidgid());
	/* shorter than a header */
	lfs_rawio_saw_request(buf, 10);
	assert_false(lfs_rawio_kill_suidgid());
}

static void test_setattr_kill_flag(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct fuse_setattr_in s = {.valid = FATTR_SIZE | FATTR_KILL_SUIDGID};
	lfs_rawio_reset(true);
	lfs_rawio_saw_request(buf, request(buf, FUSE_SETATTR, 3, &s, sizeof(s), 0));
	assert_true(lfs_rawio_kill_suidgid());
	s.valid = FATTR_SIZE;
	lfs_rawio_saw_request(buf, request(buf, FUSE_SETATTR, 4, &s, sizeof(s), 0));
	assert_false(lfs_rawio_kill_suidgid());
	/* the same bit in another request means something else */
	s.valid = FATTR_KILL_SUIDGID;
	lfs_rawio_saw_request(buf, request(buf, FUSE_SETXATTR, 5, &s, sizeof(s), 0));
	assert_false(lfs_rawio_kill_suidgid());
	lfs_rawio_saw_request(buf, request(buf, FUSE_SETATTR, 6, &s, sizeof(s) - 8, 0));
	assert_false(lfs_rawio_kill_suidgid());
}

/* The INIT request (offering flags), then libfuse's reply iov. */
static int init_round(bool want, uint32_t offered, uint64_t reply_unique, int32_t error,
                      struct fuse_init_out *got)
{
	uint8_t buf[256];
	struct fuse_init_in in = {.major = 7, .minor = 38, .flags = offered};
	lfs_rawio_reset(want);
	lfs_rawio_saw_request(buf, request(buf, FUSE_INIT, 1, &in, sizeof(in), 0));
	struct fuse_out_header oh = {.unique = reply_unique, .error = error};
	struct fuse_init_out out = {
	    .major = 7, .minor = 38, .flags = FUSE_ASYNC_READ, .max_write = 1 << 20};
	oh.len = sizeof(oh) + sizeof(out);
	struct iovec iov[2] = {{&oh, sizeof(oh)}, {&out, sizeof(out)}}, patched[4];
	struct fuse_init_out copy;
	int r = lfs_rawio_patch_init(iov, 2, patched, &copy, sizeof(copy));
	/* libfuse's own reply is never written to */
	assert_int_equal(out.flags, FUSE_ASYNC_READ);
	if (r) {
		assert_ptr_equal(patched[0].iov_base, &oh);
		assert_ptr_equal(patched[1].iov_base, &copy);
		assert_int_equal(patched[1].iov_len, sizeof(out));
		*got = copy;
	} else {
		*got = out;
	}
	return r;
}

static void test_init_patch(void **state)
{
	(void)state;
	struct fuse_init_out got;
	assert_int_equal(init_round(true, FUSE_HANDLE_KILLPRIV_V2 | FUSE_INIT_EXT, 1, 0, &got), 1);
	assert_int_equal(got.flags, FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2);
	assert_int_equal(got.max_write, 1 << 20);
	assert_true(lfs_rawio_killpriv_on());
	/* a kernel that does not offer it */
	assert_int_equal(init_round(true, FUSE_INIT_EXT, 1, 0, &got), 0);
	assert_false(lfs_rawio_killpriv_on());
	/* not wanted */
	assert_int_equal(init_round(false, FUSE_HANDLE_KILLPRIV_V2, 1, 0, &got), 0);
	assert_false(lfs_rawio_killpriv_on());
	/* another request's reply */
	assert_int_equal(init_round(true, FUSE_HANDLE_KILLPRIV_V2, 2, 0, &got), 0);
	/* an INIT refused */
	assert_int_equal(init_round(true, FUSE_HANDLE_KILLPRIV_V2, 1, -EPROTO, &got), 0);
	assert_false(lfs_rawio_killpriv_on());
}

static void test_init_patched_once(void **state)
{
	(void)state;
	struct fuse_init_out got;
	assert_int_equal(init_round(true, FUSE_HANDLE_KILLPRIV_V2, 1, 0, &got), 1);
	/* a later reply with the same unique (a reused id) is left alone */
	struct fuse_out_header oh = {.unique = 1};
	struct fuse_init_out out = {.flags = 0};
	struct iovec iov[2] = {{&oh, sizeof(oh)}, {&out, sizeof(out)}}, patched[4];
	struct fuse_init_out copy;
	assert_int_equal(lfs_rawio_patch_init(iov, 2, patched, &copy, sizeof(copy)), 0);
	/* a reply too short to hold the flags */
	assert_int_equal(init_round(true, FUSE_HANDLE_KILLPRIV_V2, 1, 0, &got), 1);
	uint8_t buf[256];
	struct fuse_init_in in = {.major = 7, .minor = 38, .flags = FUSE_HANDLE_KILLPRIV_V2};
	lfs_rawio_reset(true);
	lfs_rawio_saw_request(buf, request(buf, FUSE_INIT, 1, &in, sizeof(in), 0));
	iov[1].iov_len = offsetof(struct fuse_init_out, flags);
	assert_int_equal(lfs_rawio_patch_init(iov, 2, patched, &copy, sizeof(copy)), 0);
	/* an INIT request too short to hold its flags offers nothing */
	lfs_rawio_reset(true);
	lfs_rawio_saw_request(buf, request(buf, FUSE_INIT, 1, &in, 8, 0));
	iov[1].iov_len = sizeof(out);
	assert_int_equal(lfs_rawio_patch_init(iov, 2, patched, &copy, sizeof(copy)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_kill_flag),
	    cmocka_unit_test(test_setattr_kill_flag),
	    cmocka_unit_test(test_init_patch),
	    cmocka_unit_test(test_init_patched_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
