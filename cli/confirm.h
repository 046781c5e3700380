/* SPDX-License-Identifier: Apache-2.0 */
/* Asking before a destructive step (keyslot remove, rekey, lock --force):
 * only when a person is there (standard input and error are terminals) and
 * the command was not given -q/--batch; scripts are never asked. */
#ifndef LETHEFS_CONFIRM_H
#define LETHEFS_CONFIRM_H

#include <stdbool.h>

/* Whether to go on: true without a terminal or with batch; otherwise the
 * question (ending in "?") is asked on stderr with " [y/N] " and only
 * "y" or "yes" goes on. A refusal prints "nothing was changed". */
bool lfs_confirm(bool batch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
