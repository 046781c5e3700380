/* SPDX-License-Identifier: Apache-2.0 */
/* Audit entries written by CLI commands (cli_audit.h). */
#include "cli_audit.h"
#include "cli_error.h"
#include "../audit/audit_keyring.h"

#include <string.h>

const char *lfs_cli_command = "lethefs";

int lfs_cli_audit(struct lfs_vault *v, struct lfs_keyring *kr, const char *event,
                  const char *outcome, const struct lfs_audit_detail *details, size_t ndetails)
{
	struct lfs_audit_log *log = NULL;
	struct lfs_audit_caller self;
	lfs_audit_caller_self(&self);
	struct lfs_audit_detail all[8];
	size_t n = 0;
	all[n++] = (struct lfs_audit_detail){"command", lfs_cli_command, 0};
	for (size_t i = 0; i < ndetails && n < 8; i++)
		all[n++] = details[i];
	int r = lfs_audit_open(&log, v->dirfd, &v->cfg);
	if (r == 0) {
		r = lfs_audit_event(log, kr, event, outcome, &self, all, n);
		lfs_audit_close(log);
	}
	if (r < 0) {
		lfs_cli_error("cannot record '%s %s' in the audit log of %s: %s", event, outcome,
		              v->path, strerror(-r));
		return -1;
	}
	return 0;
}
