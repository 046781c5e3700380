/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl_answer.h"
#include "cli.h"
#include "../daemon/ctlproto.h"

#include <string.h>

bool lfs_ctl_answer_ok(const char *resp)
{
	char ok[8];
	return lfs_json_get(resp, strlen(resp), "ok", ok, sizeof(ok)) == 0 && !strcmp(ok, "true");
}

int lfs_ctl_answer_error(const char *cmd, const char *resp)
{
	static const struct {
		const char *code;
		int exit;
	} codes[] = {
	    {"wrong-secret", LFS_EXIT_BAD_SECRET},
	    {"denied", LFS_EXIT_DENIED},
	    {"busy", LFS_EXIT_BUSY},
	    {"overloaded", LFS_EXIT_OVERLOADED},
	    {"corrupt", LFS_EXIT_CORRUPT},
	    {"locked", LFS_EXIT_LOCKED},
	};
	char code[32] = "", msg[512] = "";
	size_t len = strlen(resp);
	lfs_json_get(resp, len, "error", code, sizeof(code));
	lfs_json_get(resp, len, "message", msg, sizeof(msg));
	lfs_cli_error("%s: %s", cmd, msg[0] ? msg : code);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(code, codes[i].code))
			return codes[i].exit;
	return LFS_EXIT_ERROR;
}

const char lfs_socket_help[] =
    "  --socket PATH       talk to this control socket instead of the one the\n"
    "                      mount's daemon published under /run/lethefs (the same\n"
    "                      checks apply: root's directories, root's listener)\n";

const char lfs_control_exit_help[] =
    "Exit codes: 0 done, 1 error, 2 usage, 11 MOUNTPOINT is not a lethefs mount or\n"
    "its daemon does not answer, 12 permission denied (only root and members of\n"
    "the vault's admin_group may use the control socket), 20 the socket is not\n"
    "provably the mount's daemon's (nothing was sent), 21 the daemon has no free\n"
    "control slot (try again)";
