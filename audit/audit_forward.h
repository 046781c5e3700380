/* SPDX-License-Identifier: Apache-2.0 */
/* Every audit entry also goes to the system log as it is written: to
 * journald with structured fields (LETHEFS_UUID, LETHEFS_EVENT,
 * LETHEFS_SEQ, LETHEFS_HASH, a MESSAGE_ID per event class, ...) when it
 * runs, else to syslog(3). A copy that leaves the host (journal upload,
 * a log server) is the anchor the vault's own log cannot be: rolling back
 * the log and its head together contradicts the seqs and hashes already
 * sent. Never the details: they may name staging directories, and no
 * system log line carries a name from inside the vault. docs/AUDIT.md
 * section 6. */
#ifndef LETHEFS_AUDIT_FORWARD_H
#define LETHEFS_AUDIT_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_line.h"

/* One entry as appended: its record, the line's hash (the next entry's
 * prev) and whether it carries a MAC. */
struct lfs_audit_forwarded {
	const uint8_t *uuid; /* 16 bytes */
	const struct lfs_audit_record *rec;
	const uint8_t *prev; /* 32 bytes */
	const uint8_t *hash; /* 32 bytes */
	bool keyed;
	const char *host; /* a shared mount's own log (audit_host.h): LETHEFS_HOST; else NULL */
};

/* Sends one entry. Never fails the append: when neither journald nor a
 * syslog socket listens the entry stays in the vault's log only, said once
 * per process at debug level (no error per entry). */
void lfs_audit_forward(const struct lfs_audit_forwarded *f);

/* The MESSAGE_ID of an event's class (32 lowercase hex digits; the table
 * is in docs/AUDIT.md and must never change). */
const char *lfs_audit_message_id(const char *event);

/* Where entries go from this host right now: "journal", "syslog" (no
 * journald, but /dev/log exists) or "none". For the daemon's notice at
 * mount. */
const char *lfs_audit_forward_target(void);

#endif
