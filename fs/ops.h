/* SPDX-License-Identifier: Apache-2.0 */
/* FUSE low-level operation handlers. Each handler replies exactly once;
 * the helpers they call return 0 or a negative errno and never reply. */
#ifndef LETHEFS_OPS_H
#define LETHEFS_OPS_H

#include <fuse_lowlevel.h>

#include "fs.h"

static inline struct lfs_fs *lfs_req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct lfs_inode *lfs_inode_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &lfs_req_fs(req)->root;
	return (struct lfs_inode *)(uintptr_t)ino;
}

/* Every open file or directory handle starts with this: the lock
 * generation it was opened under. A lock revokes all older handles. */
struct lfs_fh_base {
	uint64_t lock_gen;
	uint32_t stage_id; /* a shred revokes the handles below it */
};

/* An open file: the backing descriptor, opened read-write whenever the
 * mode allows because partial-block writes must read. */
struct lfs_handle {
	struct lfs_fh_base base;
	int fd;
	bool writer; /* counted in the inode's writers */
	/* fd reopened with O_DIRECT for large reads (fs/directread.h), made at
	 * the first one: LFS_DIRECT_NONE until then, LFS_DIRECT_OFF where
	 * direct reads are not used. */
	_Atomic int direct_fd;
	/* Where the writeback started behind sequential writes through this
	 * handle stopped (fs/writebehind.h); only on exclusive mounts of
	 * local disks (writebehind), as direct reads. */
	_Atomic uint64_t wb_next;
	bool writebehind;
	bool queued;      /* shared mounts: WRITEs go to the queue (fs/sharedwb.h) */
	bool sync_writes; /* O_SYNC or O_DSYNC: each write is durable (fs/durable.h) */
	/* Opened with fi->direct_io: the kernel follows no O_SYNC/O_DSYNC
	 * (or RWF_DSYNC) write with an FSYNC, so the write syncs itself. */
	bool direct_io;
	uint64_t wb_seen; /* and the queue's failures this handle has reported */
};
#define LFS_DIRECT_NONE (-1)
#define LFS_DIRECT_OFF  (-2)

static inline struct lfs_handle *lfs_handle_of(struct fuse_file_info *fi)
{
	return (struct lfs_handle *)(uintptr_t)fi->fh;
}

/* Shared helpers (ops_entry.c). */
int lfs_do_lookup(fuse_req_t req, struct lfs_inode *parent, const char *name,
                  struct fuse_entry_param *e);
int lfs_lookup_backing(struct lfs_fs *fs, struct lfs_inode *parent, int dirfd, const char *backing,
                       struct fuse_entry_param *e);
/* Whether the backing directory open on dirfd (O_RDONLY) holds nothing
 * but lethefs metadata; if so the metadata is removed so that the
 * directory itself can go. 0, -ENOTEMPTY or -errno. */
int lfs_empty_backing_dir(int dirfd);
/* Plaintext size of inode's open descriptor fd (for quota deltas; ops.c). */
uint64_t lfs_plain_size_of(struct lfs_fs *fs, struct lfs_inode *inode, int fd);
void lfs_fill_entry_timeouts(struct lfs_fs *fs, struct fuse_entry_param *e);
/* Attribute timeout for replies about inode, whose plaintext size here is
 * plain_size (0 while it is being written and still empty: ops_entry.c). */
double lfs_attr_timeout(struct lfs_fs *fs, struct lfs_inode *inode, off_t plain_size);
/* The same for a reply after which the kernel is about to write into its
 * writeback cache (a CREATE, a GETATTR with a handle): st_blocks of a file
 * being written that is still empty here is counted as one block, and the
 * kernel may keep it for 10 ms (ops_entry.c). */
double lfs_attr_live(struct lfs_fs *fs, struct lfs_inode *inode, struct stat *st);
/* With the writeback cache, makes the kernel write back (and drop) the pages
 * of a regular file from plaintext offset from on, when a handle that may
 * have dirtied them is open (ops_file.c). */
void lfs_flush_kernel_pages(struct lfs_fs *fs, fuse_ino_t ino, struct lfs_inode *inode,
                            uint64_t from);
/* Finishes a new object as a local filesystem would (fs/ops_newobj.c):
 * owner and group (when the daemon runs as root), the set-ID bits asked
 * for, and with ACLs on the umask or the parent's default ACL. mode is
 * the one asked for (type bits included). */
int lfs_new_object(fuse_req_t req, struct lfs_inode *parent, int pfd, const char *backing,
                   mode_t mode);
/* The inode record of a new format-2 object of mode (type and the bits
 * asked for) made by the request's caller in parent: the caller's uid, the
 * caller's gid or a set-group-ID parent's gid (and for a directory that
 * bit). The umask or an inherited ACL is applied afterwards
 * (lfs_make2). */
int lfs_new_record(fuse_req_t req, struct lfs_inode *parent, int pfd, mode_t mode, dev_t rdev,
                   struct lfs_irec *rec);
/* What lfs_make2 made: the new object's descriptor (a regular backing
 * file's read-write one, a directory's O_RDONLY one; the caller closes
 * it) and what it wrote there, so that the reply needs no lookup of the
 * name and no read of what was just written (lfs_made_entry). */
struct lfs_made {
	int fd;
	struct lfs_irec rec;
	bool dir;
	bool noacl;                    /* no ACL was stored on it (none to inherit) */
	struct lfs_file_header header; /* !dir */
	struct lfs_dirmeta dirmeta;    /* dir */
};
/* Creates a format-2 object (fs/ops_make2.c) named backing in parent (open
 * on pfd): built whole under a hidden temporary name (its record, an
 * inherited ACL, a symlink's target link, a directory's .lethefs.dir), then
 * renamed into place without replacing anything, so that no name ever
 * points at an object without its record. On success *made holds the new
 * object's descriptor and contents. -EEXIST when the name is taken. */
int lfs_make2(fuse_req_t req, struct lfs_inode *parent, int pfd, const char *backing, mode_t mode,
              dev_t rdev, const char *link, struct lfs_made *made);
/* The entry reply for the object lfs_make2 just made as backing in parent
 * (fs/ops_made.c): its inode from made->fd and what was written, instead
 * of a lookup of the name and a read of its header. */
int lfs_made_entry(struct lfs_fs *fs, struct lfs_inode *parent, const char *backing,
                   const struct lfs_made *made, struct fuse_entry_param *e);

/* Stored, encrypted extended attributes (fs/ops_xattr.c) of the object
 * at proc (its /proc/self/fd path), under the keys of stage_id: name is
 * the plaintext name (user.* or an ACL name). load gives a malloc'd copy
 * and its length. All return -errno (-ENODATA when absent). */
int lfs_xattr_store(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name,
                    const void *value, size_t size, int flags);
int lfs_xattr_load(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name,
                   uint8_t **out);
int lfs_xattr_remove(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name);
/* Whether the attribute is stored: 1, 0, or -errno (no value read). */
int lfs_xattr_present(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name);

/* POSIX ACLs (fs/ops_acl.c). Setting one (type LFS_ACL_ACCESS or
 * LFS_ACL_DEFAULT) also sets the mode it implies; chmod updates a stored
 * access ACL; a new object inherits its parent's default ACL. */
int lfs_acl_setxattr(fuse_req_t req, struct lfs_inode *inode, int ifd, const char *proc, int type,
                     const char *value, size_t size);
int lfs_acl_after_chmod(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, mode_t mode);
/* Returns 1 when the parent has no default ACL (the umask applied,
 * nothing stored on the new object), 0 when it inherited, or -errno. */
int lfs_acl_inherit(fuse_req_t req, struct lfs_inode *parent, int pfd, int fd, mode_t *mode);
/* After an ACL of inode was set or removed through the mount: what the
 * inode knew about its ACLs is void (inode->noacl, fs/fs.h). */
void lfs_acl_changed(struct lfs_inode *inode);
/* A new object with no ACL of either kind (lfs_acl_inherit returned 1),
 * on an exclusive mount: its inode knows it. */
void lfs_acl_none_yet(struct lfs_fs *fs, struct lfs_inode *inode);
/* For getxattr of name: whether it is an ACL that inode is known not to
 * have (then ENODATA needs no backing call); notes that the kernel asks
 * for ACLs (lfs_acl_wanted). */
bool lfs_acl_known_absent(struct lfs_fs *fs, struct lfs_inode *inode, const char *name);
/* Whether the kernel asked for an ACL in the last seconds (ls -l asks for
 * one of every file it lists), and, for the lookups of a listing then,
 * finding out which ACLs inode lacks (one probe of the backing store per
 * kind, on the listing's helper threads), so that those questions are
 * answered from memory. */
bool lfs_acl_wanted(struct lfs_fs *fs);
void lfs_acl_learn(struct lfs_fs *fs, struct lfs_inode *inode);

/* Symlinks (fs/ops_symlink.c). Encrypts target and creates backing symlink pfd/backing for it. */
int lfs_symlink_make(struct lfs_fs *fs, uint32_t stage_id, int pfd, const char *backing,
                     const char *target);
/* Around removing or replacing a backing entry: begin notes whether it is
 * the last name of a long symlink, end then drops its sidecar. */
struct lfs_link_release {
	bool is_long;
	char hash[44];
};
bool lfs_symlink_release_begin(int pfd, const char *backing, struct lfs_link_release *rel);
void lfs_symlink_release_end(struct lfs_fs *fs, uint32_t stage_id,
                             const struct lfs_link_release *rel);

void lfs_op_init(void *userdata, struct fuse_conn_info *conn);
void lfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void lfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void lfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Whether req's caller is in group gid: its group or a supplementary one
 * (fs/killpriv.c). */
bool lfs_caller_in_group(fuse_req_t req, gid_t gid);
/* Set-id bits cleared by the daemon (fs/killpriv.c, rawio.h). The mode a
 * kill by req's caller leaves on inode (pinned as ifd), or -1 when nothing
 * is to be cleared; 0 or -errno in *r. */
int lfs_kill_mode_of(fuse_req_t req, struct lfs_inode *inode, int ifd, int *r);
/* The same for a chown to the owner and group a file has (-1, -1): under
 * HANDLE_KILLPRIV_V2 the kernel sends it as a SETATTR of the change time
 * alone, without the kill flag and without the owner check ext4 makes
 * when the chown clears set-id bits; -EPERM in *r for a caller who is
 * neither the owner nor holds CAP_FOWNER (40-difftest, seed 60). Only
 * with the writeback cache, which sends the change time: the kernel's
 * removal of set-id bits before a write by another user comes as a SETATTR
 * of nothing at all, and must not be refused (41-ext4-regress). Without
 * it the two cannot be told apart, and a no-op chown by another user
 * succeeds there (docs/DESIGN.md). */
int lfs_kill_noop_chown(fuse_req_t req, struct lfs_inode *inode, int ifd, int *r);
/* Clears them (a WRITE with FUSE_WRITE_KILL_SUIDGID; with unless_fsetid,
 * a fallocate, which carries no flag: unless the caller holds CAP_FSETID).
 * 1 when bits were cleared (the kernel's cached mode is then stale), 0 when
 * there were none to clear, or -errno. */
int lfs_kill_suidgid(fuse_req_t req, struct lfs_inode *inode, bool unless_fsetid);
/* Mode (-1: unchanged) and owner ((uid_t)-1, (gid_t)-1: unchanged) of an
 * object, format 1 or 2 (ops_attr.c). 0 or -errno. */
int lfs_change_mode_owner(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, int mode, uid_t uid,
                          gid_t gid);
void lfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
                    struct fuse_file_info *fi);
void lfs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void lfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void lfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void lfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void lfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name);
void lfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                   const char *newname, unsigned int flags);
void lfs_op_statfs(fuse_req_t req, fuse_ino_t ino);

void lfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi);
void lfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi);
void lfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

void lfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                   struct fuse_file_info *fi);
void lfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void lfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi);
void lfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void lfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void lfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                      struct fuse_file_info *fi);

void lfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                     size_t size, int flags);
void lfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void lfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void lfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
