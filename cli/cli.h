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
