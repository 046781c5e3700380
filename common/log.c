/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static bool use_syslog;
static enum lfs_log_level max_level = LFS_LOG_INFO;
static char tag[64];

void lfs_log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void lfs_log_set_tag(const char *t)
{
	snprintf(tag, sizeof(tag), "%s", t ? t : "");
}

void lfs_log_set_level(enum lfs_log_level level)
{
	max_level = level;
}

void lfs_log(enum lfs_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (use_syslog) {
		if (tag[0])
			syslog((int)level, "%s %s", tag, msg);
		else
			syslog((int)level, "%s", msg);
		return;
	}
	static const char *names[] = {[LFS_LOG_ERR] = "error",
	                              [LFS_LOG_WARN] = "warning",
	                              [LFS_LOG_INFO] = "info",
	                              [LFS_LOG_DEBUG] = "debug"};
	fprintf(stderr, "lethefs: %s: %s%s%s\n", names[level] ? names[level] : "log", tag,
	        tag[0] ? " " : "", msg);
}
