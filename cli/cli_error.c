/* SPDX-License-Identifier: Apache-2.0 */
#include "cli_error.h"

#include <stdarg.h>
#include <stdio.h>

void lfs_cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("lethefs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
