/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the daemon's reading of raw FUSE requests and its patch of the
 * INIT reply (fs/rawio.c): any bytes as a request note a kill flag only
 * for a WRITE or SETATTR whose length field is the bytes read; any bytes
 * as the INIT reply are patched only after an INIT that offered
 * HANDLE_KILLPRIV_V2, only when the daemon wants it, only in the flags,
 * and never past the reply's own length. */
#include "fuzz_common.h"

#include <sys/uio.h>
#include <linux/fuse.h>

#include "../../fs/rawio.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t mode = data[0];
	data++;
	size--;
	const bool want = mode & 1;

	/* The bytes as a request. */
	lfs_rawio_reset(want);
	lfs_rawio_saw_request(data, size);
	if (lfs_rawio_kill_suidgid()) {
		struct fuse_in_header h;
		FZ_CHECK(size >= sizeof(h));
		memcpy(&h, data, sizeof(h));
		FZ_CHECK(h.len == size && (h.opcode == FUSE_WRITE || h.opcode == FUSE_SETATTR));
	}
	FZ_CHECK(!lfs_rawio_killpriv_on());

	/* The bytes as the reply to an INIT that offered the flag (or not). */
	lfs_rawio_reset(want);
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} init = {.h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 77}};
	init.in.major = 7;
	init.in.minor = 39;
	init.in.flags = (mode & 2) ? FUSE_HANDLE_KILLPRIV_V2 : 0;
	lfs_rawio_saw_request(&init, sizeof(init));
	struct fuse_out_header oh = {.len = (uint32_t)(sizeof(oh) + size),
	                             .unique = (mode & 4) ? 78 : 77};
	struct iovec iov[2] = {{&oh, sizeof(oh)}, {(void *)data, size}};
	struct iovec patched[4];
	struct fuse_init_out out;
	int r = lfs_rawio_patch_init(iov, 2, patched, &out, sizeof(out));
	if (!r) {
		FZ_CHECK(!lfs_rawio_killpriv_on());
		return 0;
	}
	FZ_CHECK(want && (mode & 2) && !(mode & 4));
	FZ_CHECK(lfs_rawio_killpriv_on());
	FZ_CHECK(size <= sizeof(out) && size >= offsetof(struct fuse_init_out, flags) + 4);
	FZ_CHECK(patched[0].iov_base == &oh && patched[1].iov_base == &out &&
	         patched[1].iov_len == size);
	struct fuse_init_out orig;
	memset(&orig, 0, sizeof(orig));
	memcpy(&orig, data, size);
	FZ_CHECK(out.flags == (orig.flags | FUSE_HANDLE_KILLPRIV_V2));
	out.flags = orig.flags;
	FZ_CHECK(memcmp(&out, &orig, size) == 0);
	/* Answered: a second reply is left alone. */
	FZ_CHECK(lfs_rawio_patch_init(iov, 2, patched, &out, sizeof(out)) == 0);
	return 0;
}
