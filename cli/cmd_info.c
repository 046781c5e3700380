/* lethefs info: public facts about a vault; needs no secret. */
#include "cli.h"
#include "../cluster/backing.h"
#include "../cluster/lease.h"

#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sodium.h>

static void info_help(void)
{
	printf("Usage: lethefs info [--backing] VAULT\n"
	       "\n"
	       "Print VAULT's format version, uuid, content cipher, creation time and, for\n"
	       "each keyslot in use, its type and Argon2id parameters. Reads only public\n"
	       "metadata: no passphrase is asked and nothing secret is printed.\n"
	       "\n"
	       "  --backing   also probe what the filesystem holding VAULT supports (rename\n"
	       "              flags, O_TMPFILE, file handles, fallocate, xattrs, byte-range\n"
	       "              locks: a mount probes the same and uses a fallback for each\n"
	       "              missing one; this creates and removes .lethefs.probe.* files\n"
	       "              in VAULT), and list the hosts that use VAULT (docs/SHARED.md)\n"
	       "\n"
	       "Exit codes: 0 ok, 2 usage, 4 no vault, 5 corrupt vault files.\n");
}

static int print_host(const struct lfs_host_info *h, void *arg)
{
	(void)arg;
	char since[32];
	time_t t = (time_t)h->since;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("  %s: %s, pid %ld, since %s, %s, epoch %u\n", h->host,
	       h->live ? "live" : "lapsed", h->pid, since, h->mode, (unsigned)h->epoch);
	return 0;
}

static void print_backing(struct lfs_vault *v)
{
	struct lfs_backing b;
	char text[2048];
	int r = lfs_backing_probe(v->dirfd, &b);
	printf("backing:\n");
	if (lfs_backing_describe(&b, text, sizeof(text)) > 0) {
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			printf("  %s\n", line);
	}
	if (r < 0)
		printf("  (probe could not write in the vault: %s)\n", strerror(-r));
	printf("hosts:\n");
	if (lfs_hosts_list(v->dirfd, print_host, NULL) <= 0)
		printf("  (none)\n");
}

int lfs_cmd_info(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		info_help();
		return LFS_EXIT_OK;
	}
	bool backing = argc == 3 && !strcmp(argv[1], "--backing");
	if (backing) {
		argv++;
		argc--;
	}
	if (argc != 2 || argv[1][0] == '-')
		return lfs_cli_usage_error("info", "expected [--backing] and one VAULT argument");
	struct lfs_vault v;
	char err[512], uuid[33];
	enum lfs_vault_error e = lfs_vault_open(argv[1], &v, err, sizeof(err));
	if (e != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(e, err);
	sodium_bin2hex(uuid, sizeof(uuid), v.cfg.uuid, 16);
	printf("vault:    %s\n", argv[1]);
	printf("format:   %d\n", v.cfg.format);
	printf("uuid:     %s\n", uuid);
	printf("cipher:   %s\n", lfs_cipher_name(v.cfg.cipher));
	printf("created:  %s\n", v.cfg.created);
	printf("keyslots: %d of %d used\n", lfs_keyslots_count_used(&v.slots), LFS_NSLOTS);
	for (int i = 0; i < LFS_NSLOTS; i++) {
		if (v.slots.slot[i].type != LFS_SLOT_EMPTY)
			lfs_print_slot("  ", i, &v.slots.slot[i]);
	}
	if (backing)
		print_backing(&v);
	lfs_vault_close(&v);
	return LFS_EXIT_OK;
}
