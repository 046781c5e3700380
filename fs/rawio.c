/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own read and write of /dev/fuse: rawio.h says why. Every
 * length is checked before a field is read; anything unexpected leaves
 * the request and the reply exactly as libfuse made them. */
#define _GNU_SOURCE
#include "rawio.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <fuse_lowlevel.h>

/* One INIT per session; a mount is one session per process. */
static _Atomic bool want_killpriv;
static _Atomic bool init_offered;    /* the kernel's INIT has HANDLE_KILLPRIV_V2 */
static _Atomic uint64_t init_unique; /* its unique, 0 once answered */
static _Atomic bool killpriv_on;     /* negotiated */
static _Thread_local bool kill_flag;

void lfs_rawio_reset(bool killpriv)
{
	atomic_store(&want_killpriv, killpriv);
	atomic_store(&init_offered, false);
	atomic_store(&init_unique, 0);
	atomic_store(&killpriv_on, false);
	kill_flag = false;
}

bool lfs_rawio_kill_suidgid(void)
{
	return kill_flag;
}

bool lfs_rawio_killpriv_on(void)
{
	return atomic_load(&killpriv_on);
}

void lfs_rawio_saw_request(const void *buf, size_t n)
{
	kill_flag = false;
	struct fuse_in_header h;
	if (n < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	const char *arg = (const char *)buf + sizeof(h);
	size_t alen = n - sizeof(h);
	if (h.len != n)
		return; /* libfuse refuses it; nothing to note */
	switch (h.opcode) {
	case FUSE_INIT: {
		struct fuse_init_in in;
		if (alen < offsetof(struct fuse_init_in, flags) + sizeof(in.flags))
			return;
		memcpy(&in, arg, offsetof(struct fuse_init_in, flags) + sizeof(in.flags));
		atomic_store(&init_offered, (in.flags & FUSE_HANDLE_KILLPRIV_V2) != 0);
		atomic_store(&init_unique, h.unique);
		break;
	}
	case FUSE_WRITE: {
		struct fuse_write_in in;
		if (alen < sizeof(in))
			return;
		memcpy(&in, arg, sizeof(in));
		kill_flag = (in.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
		break;
	}
	case FUSE_SETATTR: {
		struct fuse_setattr_in in;
		if (alen < sizeof(in))
			return;
		memcpy(&in, arg, sizeof(in));
		kill_flag = (in.valid & FATTR_KILL_SUIDGID) != 0;
		break;
	}
	default:
		break;
	}
}

int lfs_rawio_patch_init(const struct iovec *iov, int count, struct iovec *out_iov, void *out,
                         size_t out_len)
{
	uint64_t unique = atomic_load(&init_unique);
	struct fuse_out_header oh;
	struct fuse_init_out io;
	if (!unique || count < 2 || count > 4 || iov[0].iov_len != sizeof(oh))
		return 0;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != unique)
		return 0;
	atomic_store(&init_unique, 0); /* answered: nothing else is patched */
	size_t len = iov[1].iov_len;
	if (oh.error != 0 || len < offsetof(struct fuse_init_out, flags) + sizeof(io.flags) ||
	    len > sizeof(io) || len > out_len || !atomic_load(&init_offered) ||
	    !atomic_load(&want_killpriv))
		return 0;
	memset(&io, 0, sizeof(io));
	memcpy(&io, iov[1].iov_base, len);
	io.flags |= FUSE_HANDLE_KILLPRIV_V2;
	memcpy(out, &io, len);
	for (int i = 0; i < count; i++)
		out_iov[i] = iov[i];
	out_iov[1].iov_base = out;
	atomic_store(&killpriv_on, true);
	return 1;
}

static ssize_t raw_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, len);
	if (n < 0)
		return n; /* errno is libfuse's to read */
	lfs_rawio_saw_request(buf, (size_t)n);
	return n;
}

static ssize_t raw_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	struct iovec patched[4];
	struct fuse_init_out out;
	if (atomic_load_explicit(&init_unique, memory_order_relaxed) &&
	    lfs_rawio_patch_init(iov, count, patched, &out, sizeof(out)))
		return writev(fd, patched, count);
	return writev(fd, iov, count);
}

int lfs_rawio_attach(struct fuse_session *se, bool killpriv)
{
	static const struct fuse_custom_io io = {.read = raw_read, .writev = raw_writev};
	lfs_rawio_reset(killpriv);
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
