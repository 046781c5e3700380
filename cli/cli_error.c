/* SPDX-License-Identifier: Apache-2.0 */
#include "cli_error.h"

#include <stdarg.h>
#include <stdio.h>

static bool holding;
static char held[1024];

void lfs_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (holding)
		vsnprintf(held, sizeof(held), fmt, ap);
	else {
		fputs("lethefs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void lfs_cli_error_hold(void)
{
	holding = true;
	held[0] = '\0';
}

void lfs_cli_error_release(bool print)
{
	holding = false;
	if (print && held[0])
		fprintf(stderr, "lethefs: %s\n", held);
	held[0] = '\0';
}
