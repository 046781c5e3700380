/* SPDX-License-Identifier: Apache-2.0 */
/* Paths that root may act on because nobody but root (or the caller
 * itself) can change what they lead to, in the manner of ssh's
 * StrictModes: every directory from / down is owned by root (or by the
 * calling user) and not writable by group or others, and no component is
 * a symlink. Used wherever a path comes from a file that is not trusted
 * (lethefs.conf) or where a secret is about to be sent (control socket). */
#ifndef LETHEFS_TRUSTPATH_H
#define LETHEFS_TRUSTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Whether st (of a directory or a file) is owned by root or by also_uid
 * and writable by nobody else. */
bool lfs_trust_owner_ok(const struct stat *st, uid_t also_uid);

/* Opens the absolute directory path dir (O_PATH) walking it one component
 * at a time without following symlinks; every directory on the way, "/"
 * and dir included, must satisfy lfs_trust_owner_ok. Returns the
 * descriptor, or -1 with a reason in why. also_uid: the caller's uid (0
 * for root, which then trusts root alone). */
int lfs_trust_open_dir(const char *dir, uid_t also_uid, char *why, size_t whylen);

/* Splits absolute path into its directory (opened as above) and its last
 * component (copied into base). Returns the directory descriptor or -1. */
int lfs_trust_open_parent(const char *path, uid_t also_uid, char *base, size_t baselen, char *why,
                          size_t whylen);

/* Opens the directory rel (relative, no "..", no symlink components)
 * beneath dirfd. Returns an O_PATH descriptor or -errno (-EINVAL for
 * "..", -ELOOP for a symlink). */
int lfs_open_beneath(int dirfd, const char *rel);

/* The directory of a file named by an untrusted setting (lethefs.conf):
 * a relative path stays beneath base_dirfd (no "..", no symlinks); an
 * absolute one must lie under abs_root, every directory from / down being
 * root's and writable by nobody else. Returns a readable directory
 * descriptor with the file's name in base, or -EPERM / -errno with a
 * reason in why. */
int lfs_open_confined_parent(int base_dirfd, const char *path, const char *abs_root, char *base,
                             size_t baselen, char *why, size_t whylen);

#endif
