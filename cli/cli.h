/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the command-line front end. */
#ifndef LETHEFS_CLI_H
#define LETHEFS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_audit.h"
#include "cli_error.h"
#include "../keymgmt/secret.h"
#include "../keymgmt/slot_labels.h"
#include "../keymgmt/vault.h"

/* Exit codes: a stable interface for scripts (see README and lethefs --help). */
enum lfs_exit {
	LFS_EXIT_OK = 0,
	LFS_EXIT_ERROR = 1,           /* runtime error (I/O, memory, ...) */
	LFS_EXIT_USAGE = 2,           /* bad command line */
	LFS_EXIT_BAD_SECRET = 3,      /* passphrase/key opened no keyslot */
	LFS_EXIT_NO_VAULT = 4,        /* vault missing or not a vault */
	LFS_EXIT_CORRUPT = 5,         /* vault files malformed or inconsistent */
	LFS_EXIT_FSCK_FOUND = 6,      /* fsck found corruption */
	LFS_EXIT_MOUNT = 7,           /* the mount itself failed */
	LFS_EXIT_EXISTS = 8,          /* init: target not empty or already a vault */
	LFS_EXIT_AUDIT_TAMPERED = 10, /* audit verify: the log failed verification */
	LFS_EXIT_NOT_MOUNTED = 11,    /* no lethefs mount / daemon at that path */
	LFS_EXIT_DENIED = 12,         /* the control socket refused the caller */
	LFS_EXIT_BUSY = 13,           /* lock: files are open (use --force); rotate: one is running;
	                                 umount: the mount is in use */
	LFS_EXIT_LOCKED = 14,         /* rotate: the volume is locked (no keys) */
	LFS_EXIT_ROTATION_FAILED = 15, /* rotate --wait: the rotation stopped on errors */
	LFS_EXIT_MOUNTED = 16,         /* rekey: the vault is mounted (unmount first) */
	LFS_EXIT_REFUSED = 17,         /* stage extend: the vault's policy forbids it */
	LFS_EXIT_TIMEOUT = 18,         /* umount: the daemon did not answer or exit in time */
	LFS_EXIT_ROTATION_PAUSED = 19, /* rotate --wait: paused, the backing store is full */
	LFS_EXIT_UNTRUSTED = 20,       /* the control socket is not provably the daemon's */
	LFS_EXIT_OVERLOADED = 21,      /* the control socket has no free slot: try again */
};

struct lfs_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* The mount root's mode and owner (cli/root_access.c): parsed from
 * --root-mode MODE (octal) and --root-owner USER:GROUP (names or numbers),
 * applied by init, checked by mount with allow_other. */
#include <sys/types.h>
struct lfs_root_access {
	bool set_mode, set_owner;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};
int lfs_parse_root_mode(const char *s, mode_t *mode);
int lfs_parse_root_owner(const char *s, uid_t *uid, gid_t *gid);
int lfs_set_root_access(const char *vault, const struct lfs_root_access *ra, char *err,
                        size_t errlen);
/* Format 2: the root's record that ra asks for (0700 and the caller's
 * uid and gid for what it leaves out); lfs_set_root_access is format 1's. */
struct lfs_irec;
int lfs_root_access_record(const struct lfs_root_access *ra, struct lfs_irec *rec);
/* Warns on stderr, with the fix, when the mount root (the vault's d/, below
 * vault_fd; in format 2 its record, read with kr) belongs to the daemon's
 * user and nobody else may enter it. */
struct lfs_keyring;
void lfs_warn_root_access(int vault_fd, struct lfs_keyring *kr, const char *mountpoint);

int lfs_cmd_init(int argc, char **argv);
int lfs_cmd_mount(int argc, char **argv);
int lfs_cmd_info(int argc, char **argv);
int lfs_cmd_config(int argc, char **argv);
int lfs_cmd_fsck(int argc, char **argv);
int lfs_cmd_unlock(int argc, char **argv);
int lfs_cmd_lock(int argc, char **argv);
int lfs_cmd_status(int argc, char **argv);
int lfs_cmd_umount(int argc, char **argv);
int lfs_cmd_rotate(int argc, char **argv);
int lfs_cmd_keyslot(int argc, char **argv);
int lfs_cmd_keyslot_add(int argc, char **argv);
int lfs_cmd_keyslot_remove(int argc, char **argv);
int lfs_cmd_passwd(int argc, char **argv);
int lfs_cmd_key(int argc, char **argv);
int lfs_cmd_audit(int argc, char **argv);
int lfs_cmd_audit_show(int argc, char **argv); /* cli/cmd_audit_show.c */
int lfs_cmd_rekey(int argc, char **argv);
int lfs_cmd_stage(int argc, char **argv);
int lfs_cmd_shred_expired(int argc, char **argv);
int lfs_cmd_upgrade(int argc, char **argv);

/* Offline commands (rekey, upgrade; cli/claim.c). Whether a fuse.lethefs
 * mount serves the vault at path (its mount point into where). */
struct lfs_control;
/* Refuses a mounted vault (exit 16), then occupies its control socket
 * until lfs_control_stop(ctl), so that no mount starts meanwhile. */
int lfs_claim_vault(const char *cmd, const char *path, struct lfs_vault *v,
                    struct lfs_control *ctl);
/* A mount refused for a corrupt vault file: expired staging directories
 * are shredded anyway (cmd_shred_expired.c), and stderr says so. */
void lfs_expire_after_failed_mount(const char *vault);

/* --passfile/--passfd/--extpass/--keyfile/--recovery-key, shared by every
 * command that needs a secret: put LFS_SECRET_LONG_OPTIONS in the
 * getopt_long table, pass each option to lfs_secret_option, and show
 * LFS_SECRET_HELP in --help. */
enum {
	LFS_OPT_PASSFILE = 0x100,
	LFS_OPT_PASSFD,
	LFS_OPT_EXTPASS,
	LFS_OPT_KEYFILE,
	LFS_OPT_RECOVERY,
};
#define LFS_SECRET_LONG_OPTIONS                                                                    \
	{"passfile", required_argument, NULL, LFS_OPT_PASSFILE},                                   \
	    {"passfd", required_argument, NULL, LFS_OPT_PASSFD},                                   \
	    {"extpass", required_argument, NULL, LFS_OPT_EXTPASS},                                 \
	    {"keyfile", required_argument, NULL, LFS_OPT_KEYFILE},                                 \
	{                                                                                          \
		"recovery-key", no_argument, NULL, LFS_OPT_RECOVERY                                \
	}
#define LFS_SECRET_HELP                                                                            \
	"  --passfile FILE     read the passphrase from FILE (one trailing newline is\n"           \
	"                      dropped)\n"                                                         \
	"  --passfd N          read the passphrase from file descriptor N\n"                       \
	"  --extpass CMD       run CMD with /bin/sh and use its standard output\n"                 \
	"  --keyfile FILE      the secret is FILE's bytes, all of them (a key file)\n"             \
	"  --recovery-key      the secret is a recovery key ('lethefs key export'),\n"             \
	"                      asked as 'Recovery key: ' or read by the options above;\n"          \
	"                      it unlocks without any keyslot\n"
/* Returns 1 when c was a secret option (stored in src), 0 when it is not
 * one, -1 after printing a usage error. */
int lfs_secret_option(const char *cmd, int c, const char *arg, struct lfs_secret_source *src);

/* The secret of a slot being created (keyslot add, passwd):
 * --new-passfile/--new-passfd/--new-extpass/--new-keyfile, --type,
 * --kdf-ops, --kdf-mem. */
enum {
	LFS_OPT_NEW_PASSFILE = 0x120,
	LFS_OPT_NEW_PASSFD,
	LFS_OPT_NEW_EXTPASS,
	LFS_OPT_NEW_KEYFILE,
	LFS_OPT_TYPE,
	LFS_OPT_KDF_OPS,
	LFS_OPT_KDF_MEM,
	LFS_OPT_ALLOW_WEAK_KDF,
};
#define LFS_NEW_SECRET_LONG_OPTIONS                                                                \
	{"new-passfile", required_argument, NULL, LFS_OPT_NEW_PASSFILE},                           \
	    {"new-passfd", required_argument, NULL, LFS_OPT_NEW_PASSFD},                           \
	    {"new-extpass", required_argument, NULL, LFS_OPT_NEW_EXTPASS},                         \
	    {"new-keyfile", required_argument, NULL, LFS_OPT_NEW_KEYFILE},                         \
	    {"type", required_argument, NULL, LFS_OPT_TYPE},                                       \
	    {"kdf-ops", required_argument, NULL, LFS_OPT_KDF_OPS},                                 \
	    {"kdf-mem", required_argument, NULL, LFS_OPT_KDF_MEM},                                 \
	{                                                                                          \
		"allow-weak-kdf", no_argument, NULL, LFS_OPT_ALLOW_WEAK_KDF                        \
	}
#define LFS_NEW_SECRET_HELP                                                                        \
	"  --new-passfile FILE, --new-passfd N   the new passphrase, read as for --passfile\n"     \
	"                      and --passfd (default: asked twice on the terminal)\n"              \
	"  --new-extpass CMD   run CMD now; its output is the new secret (extpass slot)\n"         \
	"  --new-keyfile FILE  FILE's bytes, all of them, are the new secret (keyfile\n"           \
	"                      slot; up to 64 KiB)\n"                                              \
	"  --type TYPE         passphrase, keyfile or extpass (default: from the new\n"            \
	"                      secret's source; an extpass secret may be typed passphrase)\n"      \
	"  --kdf-ops N         Argon2id passes (default 3; key files 1)\n"                         \
	"  --kdf-mem SIZE      Argon2id memory, e.g. 256M (default 256M; key files 64M);\n"        \
	"                      at most 16 passes, 1G and 4G x passes; a passphrase slot\n"         \
	"                      needs at least 2 passes over 64M\n"                                 \
	"  --allow-weak-kdf    let --kdf-* go below that floor, down to 1 pass over 8M:\n"         \
	"                      for tests only (a stolen vault is then cheap to guess)\n"           \
	"  --label TEXT        the slot's label, e.g. \"Dr. X, lab admin\" (shown by keyslot\n"    \
	"                      list and in unlock entries; up to 128 bytes of UTF-8)\n"

/* Key files are high-entropy: Argon2id only has to make each guess cost
 * something, not make a weak secret strong. */
#define LFS_KDF_KEYFILE_OPS 1ULL
#define LFS_KDF_KEYFILE_MEM (64ULL << 20)

struct lfs_new_secret {
	struct lfs_secret_source src;
	int type; /* enum lfs_slot_type from --type, or -1 */
	struct lfs_kdf_params kdf;
	bool kdf_ops_given, kdf_mem_given;
	bool allow_weak; /* --allow-weak-kdf */
};
#define LFS_NEW_SECRET_INIT                                                                        \
	{                                                                                          \
		.src = {.passfd = -1}, .type = -1                                                  \
	}
/* As lfs_secret_option, for the new-secret options. */
int lfs_new_secret_option(const char *cmd, int c, const char *arg, struct lfs_new_secret *ns);

/* The command line of a slot change that writes a new secret (keyslot add,
 * passwd): SECRET and NEW-SECRET options, --slot N, --help, one VAULT. */
struct lfs_change_args {
	struct lfs_secret_source src;
	struct lfs_new_secret ns;
	int slot;          /* -1 when not given */
	const char *label; /* --label: the slot's new label (NULL: keep) */
};
/* Returns 0 (argv[optind] is VAULT), -1 after printing help, or a usage
 * exit code after printing why. */
int lfs_parse_change_args(const char *cmd, int argc, char **argv, struct lfs_change_args *a,
                          void (*help)(void));
/* The new slot's type and Argon2id parameters: --type, else the secret's
 * source; --kdf-*, else keep (when not NULL and the type is unchanged),
 * else the type's defaults. Prints a usage error and returns
 * LFS_EXIT_USAGE when they conflict or are out of range; 0 otherwise. */
int lfs_new_secret_resolve(const char *cmd, const struct lfs_new_secret *ns,
                           const struct lfs_keyslot *keep, enum lfs_slot_type *type,
                           struct lfs_kdf_params *kdf);
/* Checks Argon2id parameters of a new slot of this type against the
 * bounds of keymgmt/kdf_bounds.h; prints why and returns LFS_EXIT_USAGE. */
int lfs_kdf_params_check(const char *cmd, enum lfs_slot_type type, const struct lfs_kdf_params *kdf,
                         bool allow_weak);

int lfs_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses sizes like 64M, 1G, 4096. Returns -1 on error. */
int lfs_parse_size(const char *s, uint64_t *out);
/* Parses a keyslot index (0 to LFS_NSLOTS - 1); prints a usage error and
 * returns -1 otherwise. */
int lfs_parse_slot(const char *cmd, const char *s, int *idx);
/* Maps a vault-open result to an exit code after printing err. */
int lfs_exit_for_vault_error(enum lfs_vault_error e, const char *err);

/* Offline commands that must have a vault to themselves (rekey, fsck
 * --repair, shred-expired) take its exclusive lease, so that no host
 * mounts it meanwhile (cluster/lease.h). Returns 0 with *l held, or prints
 * who holds it and returns LFS_EXIT_MOUNTED. quiet: no message. */
struct lfs_lease;
int lfs_cli_take_vault(struct lfs_vault *v, const char *path, const char *what, struct lfs_lease *l,
                       bool quiet);

/* Opens the vault, reads the secret and unlocks kr. On failure prints why
 * and returns the exit code; 0 on success (vault left open). */
int lfs_open_and_unlock(const char *path, const struct lfs_secret_source *src, struct lfs_vault *v,
                        struct lfs_keyring *kr);
/* The unlock step alone, on an open vault: reads the secret and unlocks kr
 * by a keyslot, or as a recovery key when src->recovery. *slot is the slot
 * that opened (-1 for a recovery key). When keep is not NULL the secret is
 * handed to the caller (lfs_secret_free it). On failure prints why and
 * returns the exit code; v stays open either way. */
int lfs_unlock_vault(const char *path, struct lfs_vault *v, const struct lfs_secret_source *src,
                     struct lfs_keyring *kr, int *slot, struct lfs_secret *keep);

/* A keyslot change (keyslot add/remove, passwd), in four steps:
 *   begin   open the vault, read the secret, unlock (Argon2id)
 *   lock    take VAULT/lethefs.lock, re-read the keyslot file and, if the
 *           slot that opened was changed meanwhile, re-check the secret
 *           against the file as it is now
 *   store   write c->v.slots' replacement atomically
 *   end     release the lock, wipe the keys, close the vault
 * Each step but end returns an exit code (0 on success) after printing why. */
struct lfs_slot_change {
	const char *path;
	struct lfs_vault v;
	struct lfs_keyring kr;
	bool unlocked;
	struct lfs_secret secret; /* kept to re-check under the lock */
	int opened;               /* the slot the secret opened; -1 for a recovery key */
	uint8_t opened_bytes[LFS_KEYSLOT_LEN];
	int lockfd;
	/* Set before lfs_change_store to (re)label slot label_slot. Every
	 * other used slot keeps its label (cli/labels.h). */
	const char *new_label;
	int label_slot;
};
int lfs_change_begin(const char *path, const struct lfs_secret_source *src,
                     struct lfs_slot_change *c);
int lfs_change_lock(struct lfs_slot_change *c);
/* Wraps the master key into ks->slot[idx] (Argon2id; a line on a terminal). */
int lfs_change_wrap(struct lfs_slot_change *c, struct lfs_keyslots *ks, int idx,
                    enum lfs_slot_type type, const struct lfs_secret *s,
                    const struct lfs_kdf_params *kdf);
/* Replaces lethefs.keyslots with ks, and lethefs.labels around it. */
int lfs_change_store(struct lfs_slot_change *c, const struct lfs_keyslots *ks);
/* The verified label of slot idx as the keyslots are now ("" if none). */
const char *lfs_change_label_of(struct lfs_slot_change *c, int idx, char out[LFS_LABEL_MAX + 1]);
void lfs_change_end(struct lfs_slot_change *c);

/* One keyslot line, as "slot N: TYPE, argon2id ops=N mem=NMiB" (info,
 * keyslot list). */
void lfs_print_slot(const char *indent, int idx, const struct lfs_keyslot *s);

/* Makes the process refuse core dumps and ptrace by other users. */
void lfs_harden_process(void);

#endif
