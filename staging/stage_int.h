/* Helpers shared by the files of the staging table (stage.c,
 * stage_rules.c, stage_create.c). Not for other rooms. */
#ifndef LETHEFS_STAGE_INT_H
#define LETHEFS_STAGE_INT_H

#include "stage.h"

/* Writes the index from st->ix; st->lock held. */
int lfs_stage_store_locked(struct lfs_staging *st);
/* Records one stage-* audit event. */
void lfs_stage_audit(struct lfs_staging *st, const char *event, const char *outcome,
		     const struct lfs_audit_caller *caller, const struct lfs_audit_detail *d,
		     size_t n);
/* ISO 8601 UTC, "never" for 0 is not used: 0 prints as the epoch. */
void lfs_stage_iso(int64_t t, char out[32]);
/* The retention record of e as it stands. */
void lfs_stage_record_of(const struct lfs_stage_entry *e, struct lfs_stage_exp *x);

#endif
