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
#define PUBLIC_LEN LFS_IREC_AD_LEN

void lfs_dirmeta_new(struct lfs_dirmeta *m, uint32_t epoch, unsigned version)
{
	m->version = (uint8_t)version;
	m->epoch = epoch;
	m->alt_epoch = 0;
	randombytes_buf(m->dirid, LFS_DIRID_LEN);
}

int lfs_dirmeta_encode(const struct lfs_dirmeta *m, const struct lfs_epoch_keys *k,
                       const struct lfs_irec *rec, uint8_t out[LFS_DIRMETA_MAX])
{
	if (m->version != 1 && (m->version != 2 || !k || !rec))
		return -EINVAL;
	memset(out, 0, PUBLIC_LEN);
	memcpy(out, dirmeta_magic, 4);
	out[4] = m->version;
	put_le32(out + 8, m->epoch);
	memcpy(out + 16, m->dirid, LFS_DIRID_LEN);
	if (m->version == 1)
		return LFS_DIRMETA_V1_LEN;
	int r = lfs_irec_seal(k->inode, out, rec, out + PUBLIC_LEN);
	return r < 0 ? r : (int)LFS_DIRMETA_V2_LEN;
}

int lfs_dirmeta_decode(const uint8_t *in, size_t len, struct lfs_dirmeta *m)
{
	if (len < PUBLIC_LEN || memcmp(in, dirmeta_magic, 4) != 0 || !sodium_is_zero(in + 5, 3) ||
	    !sodium_is_zero(in + 12, 4))
		return -EINVAL;
	if (!((in[4] == 1 && len == LFS_DIRMETA_V1_LEN) ||
	      (in[4] == 2 && len == LFS_DIRMETA_V2_LEN)))
		return -EINVAL;
	m->version = in[4];
	m->epoch = get_le32(in + 8);
	m->alt_epoch = 0;
	if (m->epoch == 0)
		return -EINVAL;
	memcpy(m->dirid, in + 16, LFS_DIRID_LEN);
	return 0;
}

int lfs_dirmeta_open(const uint8_t *in, size_t len, const struct lfs_epoch_keys *k,
                     struct lfs_irec *rec)
{
	struct lfs_dirmeta m;
	if (lfs_dirmeta_decode(in, len, &m) < 0 || m.version != 2)
		return -EINVAL;
	return lfs_irec_open(k->inode, in, in + PUBLIC_LEN, rec);
}

int lfs_dirmeta_read(int dirfd, uint8_t raw[LFS_DIRMETA_MAX], size_t *len, struct lfs_dirmeta *m)
{
	uint8_t buf[LFS_DIRMETA_MAX + 1];
	size_t got;
	int fd = lfs_open_regular(dirfd, LFS_DIRMETA_NAME);
	if (fd < 0)
		return -EIO;
	int r = lfs_read_all(fd, buf, sizeof(buf), &got);
	close(fd);
	if (r < 0)
		return r;
	if (lfs_dirmeta_decode(buf, got, m) < 0)
		return -EIO;
	if (raw)
		memcpy(raw, buf, got);
	if (len)
		*len = got;
	return 0;
}

int lfs_dirmeta_load(int dirfd, struct lfs_dirmeta *m)
{
	return lfs_dirmeta_read(dirfd, NULL, NULL, m);
}

int lfs_dirmeta_store_raw(int dirfd, const uint8_t *raw, size_t len)
{
	int fd = openat(dirfd, LFS_DIRMETA_NAME,
	                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = lfs_write_all(fd, raw, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int lfs_dirmeta_replace(int dirfd, const uint8_t *raw, size_t len)
{
	return lfs_replace_file_via(dirfd, LFS_DIRMETA_NAME, LFS_TMP_PREFIX, raw, len, 0600);
}

int lfs_dirmeta_create_root_as(int dirfd, struct lfs_keyring *kr, const struct lfs_irec *rec)
{
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, 0, &k);
	if (r < 0)
		return r;
	struct lfs_dirmeta m;
	uint8_t raw[LFS_DIRMETA_MAX];
	lfs_dirmeta_new(&m, k->epoch, (k->flags & LFS_EPOCH_FORMAT2) ? 2 : 1);
	int n = lfs_dirmeta_encode(&m, k, rec, raw);
	lfs_keyring_put(kr);
	return n < 0 ? n : lfs_dirmeta_store_raw(dirfd, raw, (size_t)n);
}

int lfs_dirmeta_create_root(int dirfd, struct lfs_keyring *kr)
{
	struct lfs_irec rec;
	lfs_irec_make(&rec, S_IFDIR | 0700, geteuid(), getegid(), 0);
	return lfs_dirmeta_create_root_as(dirfd, kr, &rec);
}
