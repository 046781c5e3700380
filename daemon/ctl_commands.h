/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket's requests once a client is admitted (ctl_commands.c). */
#ifndef LETHEFS_DAEMON_CTL_COMMANDS_H
#define LETHEFS_DAEMON_CTL_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "../audit/audit.h"
#include "ctlproto.h"
#include "session.h"

/* Monotonic milliseconds: the deadlines below. */
int64_t lfs_ctl_now_ms(void);
/* {"ok":false,"error":code,"message":message}, best effort. */
void lfs_ctl_reply_error(int fd, const char *code, const char *message);
/* One request line (without its newline) into buf, by deadline; -errno. */
int lfs_ctl_read_line(int fd, char *buf, size_t cap, size_t *len, int64_t deadline);
/* Answers the parsed request req of the caller who; a payload (the
 * secret of an unlock) is read from fd by deadline. */
void lfs_ctl_dispatch(struct lfs_session *s, int fd, const struct lfs_ctl_request *req,
                      const struct lfs_audit_caller *who, int64_t deadline);

#endif
