/* SPDX-License-Identifier: Apache-2.0 */
#include "confirm.h"
#include "cli_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

bool lfs_confirm(bool batch, const char *fmt, ...)
{
	if (batch || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return true;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" [y/N] ", stderr);
	fflush(stderr);
	char answer[16] = "";
	if (!fgets(answer, sizeof(answer), stdin))
		answer[0] = '\0';
	answer[strcspn(answer, "\r\n")] = '\0';
	if (!strcasecmp(answer, "y") || !strcasecmp(answer, "yes"))
		return true;
	lfs_cli_error("not confirmed: nothing was changed");
	return false;
}
