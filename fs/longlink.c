/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "longlink.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static void enc_hash(const char *enc, size_t len, char out[LFS_LONGLINK_HASH + 1])
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), (const uint8_t *)enc, len, NULL, 0);
	sodium_bin2base64(out, LFS_LONGLINK_HASH + 1, h, sizeof(h), B64);
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool lfs_longlink_parse(const char *ref, size_t len, char hash[LFS_LONGLINK_HASH + 1],
                        size_t *plain_len)
{
	const size_t plen = strlen(LFS_LONGLINK_PREFIX);
	if (len != LFS_LONGLINK_REF_LEN || memcmp(ref, LFS_LONGLINK_PREFIX, plen) != 0 ||
	    ref[plen + LFS_LONGLINK_HASH] != ':')
		return false;
	for (size_t i = 0; i < LFS_LONGLINK_HASH; i++)
		if (!b64url_char(ref[plen + i]))
			return false;
	size_t n = 0;
	for (size_t i = plen + LFS_LONGLINK_HASH + 1; i < len; i++) {
		if (ref[i] < '0' || ref[i] > '9')
			return false;
		n = n * 10 + (size_t)(ref[i] - '0');
	}
	if (n == 0 || n > LFS_LINK_TARGET_MAX)
		return false;
	memcpy(hash, ref + plen, LFS_LONGLINK_HASH);
	hash[LFS_LONGLINK_HASH] = '\0';
	*plain_len = n;
	return true;
}

/* The sidecar's content is the encoding itself; it must hash to its name
 * and have the length the reference names. */
static ssize_t load_sidecar(int treefd, const char *hash, size_t plain_len, char *enc)
{
	char path[sizeof(LFS_LONGLINK_FILE) + LFS_LONGLINK_HASH];
	snprintf(path, sizeof(path), "%s%s", LFS_LONGLINK_FILE, hash);
	int fd = lfs_open_regular(treefd, path);
	if (fd < 0)
		return -EIO;
	size_t n = 0;
	int r = lfs_read_all(fd, enc, LFS_LINK_ENC_MAX + 1, &n);
	close(fd);
	char h[LFS_LONGLINK_HASH + 1];
	if (r < 0 || n != lfs_link_encoded_len(plain_len))
		return -EIO;
	enc_hash(enc, n, h);
	if (strcmp(h, hash) != 0)
		return -EIO;
	enc[n] = '\0';
	return (ssize_t)n;
}

ssize_t lfs_link_read(int treefd, int dirfd, const char *name, char *enc)
{
	ssize_t n = readlinkat(dirfd, name, enc, LFS_LINK_INLINE_MAX + 1);
	if (n < 0)
		return -errno;
	if (n > LFS_LINK_INLINE_MAX)
		return -EIO;
	char hash[LFS_LONGLINK_HASH + 1];
	size_t plain_len;
	if (!lfs_longlink_parse(enc, (size_t)n, hash, &plain_len)) {
		enc[n] = '\0';
		return n;
	}
	return load_sidecar(treefd, hash, plain_len, enc);
}

static int store_sidecar(int treefd, const char *hash, const char *enc, size_t len)
{
	/* A descriptor that can be fsync'ed (treefd may be O_PATH). */
	int dfd = openat(treefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char name[sizeof(LFS_LONGLINK_FILE) + LFS_LONGLINK_HASH];
	snprintf(name, sizeof(name), "%s%s", LFS_LONGLINK_FILE, hash);
	/* Durable before the symlink naming it can exist. */
	int r = lfs_replace_file_via(dfd, name, LFS_TMP_PREFIX, enc, len, 0400);
	close(dfd);
	return r;
}

int lfs_link_make(int treefd, int dirfd, const char *name, const char *enc, size_t plain_len)
{
	size_t len = strlen(enc);
	if (plain_len > LFS_LINK_TARGET_MAX)
		return -ENAMETOOLONG;
	if (len <= LFS_LINK_INLINE_MAX)
		return symlinkat(enc, dirfd, name) < 0 ? -errno : 0;
	char hash[LFS_LONGLINK_HASH + 1], ref[LFS_LONGLINK_REF_LEN + 1];
	enc_hash(enc, len, hash);
	snprintf(ref, sizeof(ref), "%s%s:%04zu", LFS_LONGLINK_PREFIX, hash, plain_len);
	int r = store_sidecar(treefd, hash, enc, len);
	if (r == 0 && symlinkat(ref, dirfd, name) < 0) {
		r = -errno;
		lfs_link_drop(treefd, hash);
	}
	return r;
}

bool lfs_link_last_long(int dirfd, const char *name, char hash[LFS_LONGLINK_HASH + 1])
{
	struct stat st;
	char ref[LFS_LONGLINK_REF_LEN + 1];
	size_t plain_len;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode) ||
	    st.st_nlink != 1 || st.st_size != LFS_LONGLINK_REF_LEN)
		return false;
	ssize_t n = readlinkat(dirfd, name, ref, sizeof(ref));
	return n > 0 && lfs_longlink_parse(ref, (size_t)n, hash, &plain_len);
}

void lfs_link_drop(int treefd, const char hash[LFS_LONGLINK_HASH + 1])
{
	char path[sizeof(LFS_LONGLINK_FILE) + LFS_LONGLINK_HASH];
	snprintf(path, sizeof(path), "%s%s", LFS_LONGLINK_FILE, hash);
	unlinkat(treefd, path, 0);
}

void lfs_link_fix_size(int fd, struct stat *st)
{
	char ref[LFS_LONGLINK_REF_LEN + 1], hash[LFS_LONGLINK_HASH + 1];
	size_t plain_len;
	if (!S_ISLNK(st->st_mode))
		return;
	ssize_t n = readlinkat(fd, "", ref, sizeof(ref));
	if (n > 0 && lfs_longlink_parse(ref, (size_t)n, hash, &plain_len))
		st->st_size = (off_t)plain_len;
}

int lfs_link_sweep_store(int treefd)
{
	int err = 0, n = 0;
	DIR *d = lfs_opendir_fd(treefd, &err);
	if (!d)
		return err;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, LFS_LONGLINK_FILE, strlen(LFS_LONGLINK_FILE)) == 0 &&
		    unlinkat(treefd, de->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}
