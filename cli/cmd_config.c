/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs config check VAULT: lints lethefs.conf without a key, with the
 * rules a mount applies (the parser's, the paths', the admin group's), so
 * that an edit is checked before the next boot instead of at it. */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/fileutil.h"
#include "../keymgmt/config_paths.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As keymgmt/vault.c reads it. */
#define CONFIG_MAX 65536

static void config_help(void)
{
	printf("Usage: lethefs config check VAULT\n"
	       "\n"
	       "Check VAULT's lethefs.conf as a mount would, without a key: the syntax, every\n"
	       "section, key and value (lethefs.conf(5)), the paths of [audit] log and\n"
	       "[access] control_socket, and that [access] admin_group exists on this host.\n"
	       "Prints 'VAULT/lethefs.conf: ok', or the first problem with its line number.\n"
	       "Nothing is written.\n"
	       "\n"
	       "Options:\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 the file cannot be read, 2 usage, 4 no vault, 5 the\n"
	       "configuration has an error (a mount would refuse it).\n");
}

static int check(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		lfs_cli_error("cannot open vault %s: %s", path, strerror(errno));
		return errno == ENOENT || errno == ENOTDIR ? LFS_EXIT_NO_VAULT : LFS_EXIT_ERROR;
	}
	unsigned char *text = NULL;
	size_t len = 0;
	int r = lfs_read_small_file(dfd, LFS_CONFIG_FILE_NAME, CONFIG_MAX, &text, &len);
	if (r < 0) {
		lfs_cli_error("%s/%s: %s", path, LFS_CONFIG_FILE_NAME,
		              r == -ENOENT ? "no such file (not a lethefs vault)" : strerror(-r));
		close(dfd);
		return r == -ENOENT ? LFS_EXIT_NO_VAULT : LFS_EXIT_ERROR;
	}
	struct lfs_vault_config cfg;
	char why[768];
	int rc = LFS_EXIT_OK;
	if (lfs_config_parse((const char *)text, len, &cfg, why, sizeof(why)) < 0)
		rc = LFS_EXIT_CORRUPT;
	else if (lfs_config_check_paths(dfd, &cfg, why, sizeof(why)) < 0)
		rc = LFS_EXIT_CORRUPT;
	else if (cfg.admin_group[0] && !getgrnam(cfg.admin_group) &&
	         (strspn(cfg.admin_group, "0123456789") != strlen(cfg.admin_group) ||
	          !getgrgid((gid_t)strtoul(cfg.admin_group, NULL, 10)))) {
		snprintf(why, sizeof(why),
		         "[access] admin_group '%s' does not exist on this host (a mount would "
		         "refuse to start)",
		         cfg.admin_group);
		rc = LFS_EXIT_CORRUPT;
	}
	free(text);
	close(dfd);
	if (rc != LFS_EXIT_OK) {
		lfs_cli_error("%s/%s: %s", path, LFS_CONFIG_FILE_NAME, why);
		return rc;
	}
	printf("%s/%s: ok\n", path, LFS_CONFIG_FILE_NAME);
	return LFS_EXIT_OK;
}

int lfs_cmd_config(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check")) {
		static const struct option opts[] = {
		    {"help", no_argument, NULL, 'h'},
		    {NULL, 0, NULL, 0},
		};
		int c;
		argc--;
		argv++;
		optind = 1;
		while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
			if (c != 'h')
				return lfs_cli_usage_error("config check", "unknown option");
			config_help();
			return LFS_EXIT_OK;
		}
		if (argc - optind != 1)
			return lfs_cli_usage_error("config check", "expected exactly one VAULT");
		return check(argv[optind]);
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		config_help();
		return LFS_EXIT_OK;
	}
	return lfs_cli_usage_error("config", "expected 'check'");
}
