/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs info: public facts about a vault; needs no secret. */
#include "cli.h"
#include "../cluster/backing.h"
#include "../cluster/lease.h"
#include "../daemon/ctlproto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sodium.h>

static void info_help(void)
{
	printf("Usage: lethefs info [--json] [--backing] VAULT\n"
	       "\n"
	       "Print VAULT's format version, uuid, content cipher, creation time and, for\n"
	       "each keyslot in use, its type and Argon2id parameters. Reads only public\n"
	       "metadata: no passphrase is asked and nothing secret is printed.\n"
	       "\n"
	       "Options:\n"
	       "  --json              print one JSON object on one line: vault, format,\n"
	       "                      uuid, cipher, created (ISO 8601 UTC), keyslots_used,\n"
	       "                      keyslots_total, slots (the used ones: slot, type, kdf,\n"
	       "                      opslimit, memlimit in bytes)\n"
	       "  --backing           also probe what the filesystem holding VAULT supports\n"
	       "                      (rename flags, O_TMPFILE, file handles, fallocate,\n"
	       "                      xattrs, byte-range locks: a mount probes the same and\n"
	       "                      uses a fallback for each missing one; this creates and\n"
	       "                      removes .lethefs.probe.* files in VAULT), and list the\n"
	       "                      hosts that use VAULT (docs/SHARED.md); text only\n"
	       "  -h, --help          show this help\n"
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
	printf("  %s: %s, pid %ld, since %s, %s, epoch %u\n", h->host, h->live ? "live" : "lapsed",
	       h->pid, since, h->mode, (unsigned)h->epoch);
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

static void print_json(const char *path, const struct lfs_vault *v, const char *uuid)
{
	/* Escaped, a byte takes at most 6 ("\u00XX"); on the heap. */
	size_t cap = 6 * strlen(path) + 3, used = 0;
	char *quoted = malloc(cap);
	if (!quoted || lfs_json_put_string(quoted, cap, &used, path) < 0) {
		free(quoted);
		quoted = NULL;
	}
	printf("{\"vault\":%s,\"format\":%d,\"uuid\":\"%s\",\"cipher\":\"%s\",\"created\":\"%s\","
	       "\"keyslots_used\":%d,\"keyslots_total\":%d,\"slots\":[",
	       quoted ? quoted : "null", v->cfg.format, uuid, lfs_cipher_name(v->cfg.cipher),
	       v->cfg.created, lfs_keyslots_count_used(&v->slots), LFS_NSLOTS);
	const char *sep = "";
	for (int i = 0; i < LFS_NSLOTS; i++) {
		const struct lfs_keyslot *s = &v->slots.slot[i];
		if (s->type == LFS_SLOT_EMPTY)
			continue;
		printf("%s{\"slot\":%d,\"type\":\"%s\",\"kdf\":\"argon2id\",\"opslimit\":%llu,"
		       "\"memlimit\":%llu}",
		       sep, i, lfs_slot_type_name(s->type), (unsigned long long)s->opslimit,
		       (unsigned long long)s->memlimit);
		sep = ",";
	}
	puts("]}");
	free(quoted);
}

int lfs_cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"backing", no_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false, backing = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'b':
			backing = true;
			break;
		case 'h':
			info_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("info", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("info", "expected exactly one VAULT argument");
	if (json && backing)
		return lfs_cli_usage_error("info", "--backing has no JSON form: use one of them");
	const char *path = argv[optind];
	struct lfs_vault v;
	char err[512], uuid[33];
	enum lfs_vault_error e = lfs_vault_open(path, &v, err, sizeof(err));
	if (e != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(e, err);
	sodium_bin2hex(uuid, sizeof(uuid), v.cfg.uuid, 16);
	if (json) {
		print_json(path, &v, uuid);
		lfs_vault_close(&v);
		return LFS_EXIT_OK;
	}
	printf("vault:    %s\n", path);
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
