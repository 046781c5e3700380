/* SPDX-License-Identifier: Apache-2.0 */
/* One audit log per host for a vault mounted by several hosts at once
 * (-o shared, docs/SHARED.md): each shared mount appends to
 * <log>.d/<HOST> (default lethefs.audit.d/<HOST>) with its own hash chain
 * and head file <HOST>.head, sealed under the same audit key, and chained
 * from a genesis that binds it to its vault and its host name (a host's
 * log copied over another's does not verify). Before its first keyed
 * entry a host registers in the vault's main log ("audit-host" entry), so
 * that a host log deleted later is missed by verify. docs/AUDIT.md
 * section 8. */
#ifndef LETHEFS_AUDIT_HOST_H
#define LETHEFS_AUDIT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_line.h"
#include "../cluster/lease.h"

#define LFS_AUDIT_HOSTS_SUFFIX ".d" /* the directory: <log>.d */
#define LFS_AUDIT_MAX_HOSTS    1024 /* entries verify and show read in it */

/* A host name usable as a log name: lfs_host_name_ok (1 to 64 of
 * [A-Za-z0-9._-], not starting with '.') and not ending in ".head",
 * which names head files. */
bool lfs_audit_host_name_ok(const char *host);

/* The "prev" of a host log's first entry: BLAKE2b-256 with its own
 * personalisation over the vault's uuid and the host name. */
void lfs_audit_host_genesis(uint8_t out[32], const uint8_t uuid[16], const char *host);

/* Whether line (len bytes, no newline) is a valid "audit-host" success
 * entry registering a host whose name can name a log: 1 with host and its
 * seq filled, else 0. What verify reads from the main log (fuzzed:
 * tests/fuzz/fuzz_audit_host.c). */
int lfs_audit_registration(const char *line, size_t len, char host[LFS_HOST_NAME_MAX + 1],
                           uint64_t *seq);

/* Opens the directory <logname>.d in logdirfd (the main log's directory),
 * creating it 0700 when create. Never follows a symlink; anything but a
 * directory is -ENOTDIR. Returns a descriptor or -errno (-ENOENT: absent). */
int lfs_audit_hosts_dir_open(int logdirfd, const char *logname, bool create);

#endif
