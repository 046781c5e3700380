/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own read and write of /dev/fuse (libfuse's custom I/O),
 * for the two things libfuse 3.14 cannot pass on: negotiating
 * FUSE_HANDLE_KILLPRIV_V2 in the INIT reply, and the kill flags of the
 * requests that then come (WRITE's FUSE_WRITE_KILL_SUIDGID, SETATTR's
 * FATTR_KILL_SUIDGID), which its request parsing drops.
 *
 * Why: without HANDLE_KILLPRIV_V2 the kernel leaves SB_NOSEC off on a FUSE
 * mount and asks for security.capability (a GETXATTR round trip) before
 * every write(2), and before every chown and truncation; with it, once per
 * inode until the inode's attributes are refreshed (docs/PERFORMANCE.md,
 * "Set-id clearing in the daemon"). In exchange the filesystem clears the
 * set-user-ID bit, and the set-group-ID bit of a group-executable file,
 * when the kernel says so: a truncation by a caller without CAP_FSETID
 * (the kernel no longer sends that as a mode change) and every chown; on
 * writes the kernel still sends its own mode change too. security.*
 * attributes are never stored here (ops_xattr.c), so there is no file
 * capability to remove. */
#ifndef LETHEFS_RAWIO_H
#define LETHEFS_RAWIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct fuse_session;

/* Installs the custom I/O on a mounted session (after fuse_session_mount,
 * before the loop: the INIT request must pass through it). killpriv: offer
 * HANDLE_KILLPRIV_V2 when the kernel does. 0 or -errno. */
int lfs_rawio_attach(struct fuse_session *se, bool killpriv);

/* Whether the request this thread is handling carries a kill flag
 * (FUSE_WRITE_KILL_SUIDGID on a WRITE, FATTR_KILL_SUIDGID on a SETATTR).
 * libfuse reads a request and runs its handler on the same thread, so the
 * flag read with the request is the handler's; handlers ask at entry. */
bool lfs_rawio_kill_suidgid(void);

/* Whether HANDLE_KILLPRIV_V2 was negotiated on this mount (status, tests). */
bool lfs_rawio_killpriv_on(void);

/* The parsing and the reply patch alone, for the unit tests: the request
 * of n bytes in buf (sets the calling thread's kill flag, notes an INIT);
 * and the INIT reply iov of count parts: 1 when it was patched into out
 * (out_iov then holds count parts pointing into out), 0 when untouched. */
void lfs_rawio_saw_request(const void *buf, size_t n);
int lfs_rawio_patch_init(const struct iovec *iov, int count, struct iovec *out_iov, void *out,
                         size_t out_len);
void lfs_rawio_reset(bool killpriv); /* forget the INIT seen (tests) */

#endif
