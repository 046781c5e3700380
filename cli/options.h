/* SPDX-License-Identifier: Apache-2.0 */
/* Option parsing shared by every command (options.c): getopt_long is
 * wrapped at link time for one-line errors and for shell completion. */
#ifndef LETHEFS_OPTIONS_H
#define LETHEFS_OPTIONS_H

#include <stdbool.h>

/* Set by 'lethefs __complete CMD [SUB]': the command's first getopt_long
 * call prints its option table and exits instead of parsing. */
extern bool lfs_cli_completing;

#endif
