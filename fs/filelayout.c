/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "filelayout.h"
#include "../common/fileutil.h"

#include <pthread.h>

int lfs_inode_layout(struct lfs_fs *fs, struct lfs_inode *in, int fd, struct lfs_layout *l)
{
	pthread_mutex_lock(&in->meta_lock);
	uint8_t v = in->fmt;
	pthread_mutex_unlock(&in->meta_lock);
	if (!v) {
		uint8_t head[5];
		size_t got = 0;
		int r = lfs_pread_full(fd, head, sizeof(head), 0, &got);
		if (r < 0)
			return r;
		int hv = got == 0 ? (int)LFS_FILE_V1 : lfs_header_version(head, got);
		v = hv == LFS_FILE_V2 ? LFS_FILE_V2 : LFS_FILE_V1;
		pthread_mutex_lock(&in->meta_lock);
		if (!in->fmt)
			in->fmt = v;
		pthread_mutex_unlock(&in->meta_lock);
	}
	lfs_layout_init(l, fs->layout.cipher, v);
	return 0;
}
