#define _GNU_SOURCE
#include "fs.h"
#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t hash_key(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;
	return (size_t)(h >> 16) & (nbuckets - 1);
}

int lfs_fs_init(struct lfs_fs *fs, struct lfs_keyring *kr, int data_dir_fd,
		const char *vault_path)
{
	struct stat st;
	memset(fs, 0, sizeof(*fs));
	if (fstat(data_dir_fd, &st) < 0)
		return -errno;
	fs->kr = kr;
	fs->vault_path = vault_path;
	lfs_layout_init(&fs->layout, kr->cipher);
	pthread_mutex_init(&fs->table_lock, NULL);
	fs->nbuckets = 1024;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	if (!fs->buckets)
		return -ENOMEM;
	fs->root.fd = data_dir_fd;
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 2; /* never freed */
	pthread_rwlock_init(&fs->root.io_lock, NULL);
	pthread_mutex_init(&fs->root.meta_lock, NULL);
	fs->entry_timeout = 1.0;
	fs->attr_timeout = 1.0;
	return 0;
}

static void inode_free(struct lfs_inode *inode)
{
	close(inode->fd);
	pthread_rwlock_destroy(&inode->io_lock);
	pthread_mutex_destroy(&inode->meta_lock);
	pthread_cond_destroy(&inode->size_changed);
	free(inode);
}

void lfs_fs_destroy(struct lfs_fs *fs)
{
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lfs_inode *n = fs->buckets[i];
		while (n) {
			struct lfs_inode *next = n->hash_next;
			inode_free(n);
			n = next;
		}
	}
	free(fs->buckets);
	close(fs->root.fd);
}

static void grow_table(struct lfs_fs *fs)
{
	size_t nb = fs->nbuckets * 2;
	struct lfs_inode **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the smaller table: slower, still correct */
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lfs_inode *n = fs->buckets[i];
		while (n) {
			struct lfs_inode *next = n->hash_next;
			size_t h = hash_key(n->dev, n->ino, nb);
			n->hash_next = b[h];
			b[h] = n;
			n = next;
		}
	}
	free(fs->buckets);
	fs->buckets = b;
	fs->nbuckets = nb;
}

struct lfs_inode *lfs_inode_get(struct lfs_fs *fs, int fd, const struct stat *st, int *err)
{
	if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino) {
		close(fd);
		pthread_mutex_lock(&fs->table_lock);
		fs->root.nlookup++;
		pthread_mutex_unlock(&fs->table_lock);
		return &fs->root;
	}
	pthread_mutex_lock(&fs->table_lock);
	size_t h = hash_key(st->st_dev, st->st_ino, fs->nbuckets);
	for (struct lfs_inode *n = fs->buckets[h]; n; n = n->hash_next) {
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			n->nlookup++;
			pthread_mutex_unlock(&fs->table_lock);
			close(fd);
			return n;
		}
	}
	struct lfs_inode *inode = calloc(1, sizeof(*inode));
	if (!inode) {
		pthread_mutex_unlock(&fs->table_lock);
		close(fd);
		*err = ENOMEM;
		return NULL;
	}
	inode->fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	inode->nlookup = 1;
	pthread_rwlock_init(&inode->io_lock, NULL);
	pthread_mutex_init(&inode->meta_lock, NULL);
	pthread_cond_init(&inode->size_changed, NULL);
	inode->hash_next = fs->buckets[h];
	fs->buckets[h] = inode;
	if (++fs->ninodes > fs->nbuckets)
		grow_table(fs);
	pthread_mutex_unlock(&fs->table_lock);
	return inode;
}

void lfs_inode_forget(struct lfs_fs *fs, struct lfs_inode *inode, uint64_t n)
{
	pthread_mutex_lock(&fs->table_lock);
	if (n > inode->nlookup) {
		/* The kernel never forgets more than it looked up; if it did our
		 * counting is broken and continuing risks a use-after-free. */
		fprintf(stderr, "lethefs: lookup count underflow\n");
		abort();
	}
	inode->nlookup -= n;
	if (inode->nlookup == 0 && inode != &fs->root) {
		size_t h = hash_key(inode->dev, inode->ino, fs->nbuckets);
		struct lfs_inode **pp = &fs->buckets[h];
		while (*pp != inode)
			pp = &(*pp)->hash_next;
		*pp = inode->hash_next;
		fs->ninodes--;
		pthread_mutex_unlock(&fs->table_lock);
		inode_free(inode);
		return;
	}
	pthread_mutex_unlock(&fs->table_lock);
}

void lfs_proc_path(int fd, char out[LFS_PROC_PATH_MAX])
{
	snprintf(out, LFS_PROC_PATH_MAX, "/proc/self/fd/%d", fd);
}

void lfs_stat_to_plain(const struct lfs_fs *fs, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		uint64_t plain;
		lfs_plain_size(&fs->layout, (uint64_t)st->st_size, &plain);
		st->st_size = (off_t)plain;
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = (off_t)lfs_link_plain_len((size_t)st->st_size);
	}
}
