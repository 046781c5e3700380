/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "dirmeta.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t dirmeta_magic[4] = {'L', 'T', 'H', 'D'};

void lfs_dirmeta_new(struct lfs_dirmeta *m, uint32_t epoch)
{
	m->epoch = epoch;
	randombytes_buf(m->dirid, LFS_DIRID_LEN);
}

void lfs_dirmeta_encode(const struct lfs_dirmeta *m, uint8_t out[LFS_DIRMETA_LEN])
{
	memset(out, 0, LFS_DIRMETA_LEN);
	memcpy(out, dirmeta_magic, 4);
	out[4] = 1;
	put_le32(out + 8, m->epoch);
	memcpy(out + 16, m->dirid, LFS_DIRID_LEN);
}

int lfs_dirmeta_decode(const uint8_t *in, size_t len, struct lfs_dirmeta *m)
{
	if (len != LFS_DIRMETA_LEN || memcmp(in, dirmeta_magic, 4) != 0 || in[4] != 1 ||
	    !sodium_is_zero(in + 5, 3) || !sodium_is_zero(in + 12, 4))
		return -EINVAL;
	m->epoch = get_le32(in + 8);
	if (m->epoch == 0)
		return -EINVAL;
	memcpy(m->dirid, in + 16, LFS_DIRID_LEN);
	return 0;
}

int lfs_dirmeta_load(int dirfd, struct lfs_dirmeta *m)
{
	uint8_t buf[LFS_DIRMETA_LEN + 1];
	size_t got;
	int fd = openat(dirfd, LFS_DIRMETA_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -EIO;
	int r = lfs_read_all(fd, buf, sizeof(buf), &got);
	close(fd);
	if (r < 0)
		return r;
	return lfs_dirmeta_decode(buf, got, m) < 0 ? -EIO : 0;
}

int lfs_dirmeta_store(int dirfd, const struct lfs_dirmeta *m)
{
	uint8_t buf[LFS_DIRMETA_LEN];
	lfs_dirmeta_encode(m, buf);
	int fd = openat(dirfd, LFS_DIRMETA_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0400);
	if (fd < 0)
		return -errno;
	int r = lfs_write_all(fd, buf, sizeof(buf));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int lfs_dirmeta_create(int dirfd, uint32_t epoch)
{
	struct lfs_dirmeta m;
	lfs_dirmeta_new(&m, epoch);
	return lfs_dirmeta_store(dirfd, &m);
}
