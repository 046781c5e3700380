/* Shared pieces of the command-line front end. */
#ifndef LETHEFS_CLI_H
#define LETHEFS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "../keymgmt/secret.h"
#include "../keymgmt/vault.h"

/* Exit codes: a stable interface for scripts (see README and lethefs --help). */
enum lfs_exit {
	LFS_EXIT_OK = 0,
	LFS_EXIT_ERROR = 1,	  /* runtime error (I/O, memory, ...) */
	LFS_EXIT_USAGE = 2,	  /* bad command line */
	LFS_EXIT_BAD_SECRET = 3,  /* passphrase/key opened no keyslot */
	LFS_EXIT_NO_VAULT = 4,	  /* vault missing or not a vault */
	LFS_EXIT_CORRUPT = 5,	  /* vault files malformed or inconsistent */
	LFS_EXIT_FSCK_FOUND = 6,  /* fsck found corruption */
	LFS_EXIT_MOUNT = 7,	  /* the mount itself failed */
	LFS_EXIT_EXISTS = 8,	  /* init: target not empty or already a vault */
	/* 9 is reserved for another command. */
	LFS_EXIT_AUDIT_TAMPERED = 10, /* audit verify: the log failed verification */
};

struct lfs_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int lfs_cmd_init(int argc, char **argv);
int lfs_cmd_mount(int argc, char **argv);
int lfs_cmd_info(int argc, char **argv);
int lfs_cmd_fsck(int argc, char **argv);
int lfs_cmd_audit(int argc, char **argv);

/* --passfile/--passfd/--extpass, shared by every command that needs a
 * secret: put LFS_SECRET_LONG_OPTIONS in the getopt_long table and pass each
 * option to lfs_secret_option. */
enum { LFS_OPT_PASSFILE = 0x100, LFS_OPT_PASSFD, LFS_OPT_EXTPASS };
#define LFS_SECRET_LONG_OPTIONS                                                                   \
	{"passfile", required_argument, NULL, LFS_OPT_PASSFILE},                                  \
		{"passfd", required_argument, NULL, LFS_OPT_PASSFD},                              \
		{"extpass", required_argument, NULL, LFS_OPT_EXTPASS}
/* Returns 1 when c was a secret option (stored in src), 0 when it is not
 * one, -1 after printing a usage error. */
int lfs_secret_option(const char *cmd, int c, const char *arg, struct lfs_secret_source *src);

/* Prints "lethefs: <msg>" to stderr. */
void lfs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lfs_cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses sizes like 64M, 1G, 4096. Returns -1 on error. */
int lfs_parse_size(const char *s, uint64_t *out);
/* Maps a vault-open result to an exit code after printing err. */
int lfs_exit_for_vault_error(enum lfs_vault_error e, const char *err);

/* Opens the vault, reads the secret and unlocks kr. On failure prints why
 * and returns the exit code; 0 on success (vault left open). */
int lfs_open_and_unlock(const char *path, const struct lfs_secret_source *src,
			struct lfs_vault *v, struct lfs_keyring *kr);

/* Makes the process refuse core dumps and ptrace by other users. */
void lfs_harden_process(void);

#endif
