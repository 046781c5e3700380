/* SPDX-License-Identifier: Apache-2.0 */
/* Verifying the host logs of a shared vault (audit_host.h): every file of
 * <log>.d is checked as a log of its own (chain from its host's genesis,
 * MACs, head), against the hosts the main log registers ("audit-host"
 * entries): a registered host's log must be there and hold keyed entries,
 * a log holding keyed entries must be registered, a log must chain from
 * its own host's genesis (not another's: copied or swapped), and nothing
 * else may sit in the directory (symlinks, FIFOs, sockets, directories,
 * names that are no host's). docs/AUDIT.md section 8. */
#ifndef LETHEFS_AUDIT_VERIFY_HOSTS_H
#define LETHEFS_AUDIT_VERIFY_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "audit_host.h"
#include "audit_report.h"

struct lfs_audit_host_report {
	/* The host name; for an entry that is not a host log, its name as a
	 * quoted, escaped JSON string (cut). */
	char name[96];
	bool planted; /* not a host log (rep.message says what it is) */
	bool registered;
	uint64_t registered_seq; /* the main log's entry registering it */
	struct lfs_audit_report rep;
};

struct lfs_audit_hosts {
	bool dir_present;
	char dir[260]; /* "<log>.d" */
	size_t n;
	struct lfs_audit_host_report *v; /* sorted by name */
};

/* Checks every host log of the vault. key: the audit key or NULL (chain
 * and structure only). journal_dir / with_journal: compare each intact
 * host log with its copies in the system journal, as --journal does for
 * the main log. Returns 0 when the check ran (each report says how it
 * went), or -errno (the main log or the directory could not be read). */
int lfs_audit_verify_hosts(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
                           bool with_journal, const char *journal_dir, struct lfs_audit_hosts *out);
void lfs_audit_hosts_free(struct lfs_audit_hosts *h);
/* Every host log intact (true when there are none). */
bool lfs_audit_hosts_ok(const struct lfs_audit_hosts *h);

#endif
