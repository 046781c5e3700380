/* SPDX-License-Identifier: Apache-2.0 */
/* The vault's tamper-evident audit log: one JSON object per line, each
 * chained to the previous line by hash and, when a key is available, sealed
 * with a MAC under a key derived from the master key. A head file beside the
 * log records the last entry so that a cut at a line boundary shows.
 * Format, vocabulary and limits: docs/AUDIT.md.
 *
 * Vocabulary (stable; docs/AUDIT.md lists it with the details each carries):
 *   events:   "mount", "unmount", "unlock", "lock", "keyslot-add",
 *             "keyslot-remove", "passwd", "key-export", "socket-refused"
 *   outcomes: "success", "failure", "refused"
 *   details:  {"reason":"manual|idle|forced"}, {"slot":2,"type":"passphrase"},
 *             {"error":"wrong secret"}, {"mountpoint":"/mnt/x"}
 * Names are 1 to 32 of [a-z0-9-] (detail keys: [a-z0-9_]); anything else
 * is -EINVAL, so a typo fails in the caller's tests, not in the field. */
#ifndef LETHEFS_AUDIT_H
#define LETHEFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit_line.h"
#include "../keymgmt/config.h"

#define LFS_AUDIT_HEAD_SUFFIX ".head"

/* struct lfs_audit_caller, struct lfs_audit_detail and the callers'
 * constructors are common/event.h's (included by audit_line.h). */

struct lfs_audit_log;

/* Opens (creating it 0600 if absent) the log configured for the vault:
 * cfg->audit_log, "" meaning LFS_AUDIT_DEFAULT_NAME in the vault, a
 * relative path being relative to the vault directory vault_dirfd.
 * Returns 0 or -errno. */
int lfs_audit_open(struct lfs_audit_log **out, int vault_dirfd, const struct lfs_vault_config *cfg);
/* A shared mount's own log, <log>.d/<host> beside the configured log
 * (audit_host.h; created 0700/0600 when absent). Its first keyed append
 * in this process first appends an "audit-host" entry naming the host to
 * the main log. -EINVAL for a host name that cannot name a log. */
int lfs_audit_open_host(struct lfs_audit_log **out, int vault_dirfd,
                        const struct lfs_vault_config *cfg, const char *host);
void lfs_audit_close(struct lfs_audit_log *log);
/* For a vault on read-only storage (mount -o ro): a log whose entries go
 * to the system log only (audit_forward.h), numbered from 1 and chained
 * among themselves from the vault's genesis; nothing is written in the
 * vault. */
int lfs_audit_open_ro(struct lfs_audit_log **out, const struct lfs_vault_config *cfg);
bool lfs_audit_system_log_only(const struct lfs_audit_log *log);

/* Appends one entry. key is the 32-byte audit key, or NULL when none is
 * available (locked volume): the entry is then only chained, and the next
 * keyed entry seals it. A successful "unlock" must be keyed (the key is
 * there by definition), else -EINVAL: verify treats an unkeyed successful
 * unlock as a stripped MAC. Durable (fsync) before returning. Safe from
 * several threads and processes at once (flock on a descriptor of its
 * own, so forked children are excluded too). Returns 0 or -errno. */
int lfs_audit_append(struct lfs_audit_log *log, const uint8_t *key, const char *event,
                     const char *outcome, const struct lfs_audit_caller *caller,
                     const struct lfs_audit_detail *details, size_t ndetails);

/* The audit key: KDF(master, 1, LFS_KDF_CTX_AUDIT). Caller wipes it. */
void lfs_audit_derive_key(uint8_t key[32], const uint8_t master[32]);

/* Where the log lives: a descriptor of its directory (caller closes) and
 * its file name. For readers (verify, show), which must not create it. */
int lfs_audit_locate(int vault_dirfd, const struct lfs_vault_config *cfg, int *dirfd,
                     char name[256]);

/* The seq of the log's last entry, as its head file says (for status and
 * monitoring; verify checks the head against the log). Returns 0, or
 * -errno / -EBADMSG when the head cannot be read. */
int lfs_audit_last_seq(const struct lfs_audit_log *log, uint64_t *seq);

#endif
