/* SPDX-License-Identifier: Apache-2.0 */
/* Public description of keyslots, shared by info and keyslot list. */
#include "cli.h"

#include <stdio.h>

/* Memory in MiB when it is a whole number of MiB (the usual case), else
 * in KiB, so that small test parameters do not print as 0. */
static void print_mem(uint64_t mem)
{
	if (mem % (1ULL << 20) == 0)
		printf("%lluMiB", (unsigned long long)(mem >> 20));
	else
		printf("%lluKiB", (unsigned long long)(mem >> 10));
}

void lfs_print_slot(const char *indent, int idx, const struct lfs_keyslot *s)
{
	printf("%sslot %d: %s", indent, idx, lfs_slot_type_name(s->type));
	if (s->type != LFS_SLOT_EMPTY) {
		printf(", argon2id ops=%llu mem=", (unsigned long long)s->opslimit);
		print_mem(s->memlimit);
	}
	putchar('\n');
}
