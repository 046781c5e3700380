/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: one style for the CLI (stderr) and the daemon (syslog). */
#ifndef LETHEFS_LOG_H
#define LETHEFS_LOG_H

#include <stdbool.h>

enum lfs_log_level { LFS_LOG_ERR = 3, LFS_LOG_WARN = 4, LFS_LOG_INFO = 6, LFS_LOG_DEBUG = 7 };

/* Route messages to syslog (daemon mode) instead of stderr. The tag is
 * prefixed to every line so journald shows which vault spoke. */
void lfs_log_to_syslog(const char *ident);
/* A prefix for every line, e.g. "uuid=3f1c..." (one daemon, one vault), so
 * that lines of several mounts in one journal can be told apart. */
void lfs_log_set_tag(const char *tag);
void lfs_log_set_level(enum lfs_log_level max_level);

void lfs_log(enum lfs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lfs_err(...)   lfs_log(LFS_LOG_ERR, __VA_ARGS__)
#define lfs_warn(...)  lfs_log(LFS_LOG_WARN, __VA_ARGS__)
#define lfs_info(...)  lfs_log(LFS_LOG_INFO, __VA_ARGS__)
#define lfs_debug(...) lfs_log(LFS_LOG_DEBUG, __VA_ARGS__)

#endif
