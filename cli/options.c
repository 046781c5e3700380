/* SPDX-License-Identifier: Apache-2.0 */
/* Every command parses its options with getopt_long(3) and its own table.
 * The binary is linked with -Wl,--wrap=getopt_long (Makefile), so each of
 * those calls comes here first, which does two things for all commands at
 * once, from the very tables they parse with:
 *   - a wrong option gets one line naming it and "Try 'lethefs CMD
 *     --help'.", exit 2 (not getopt's message plus the command's);
 *   - under 'lethefs __complete CMD [SUB]' (the shell completions' way of
 *     asking), the first call prints the table instead of parsing and
 *     exits 0: completion offers exactly what the command accepts. */
#include "options.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool lfs_cli_completing;

int __real_getopt_long(int argc, char *const argv[], const char *shortopts,
                       const struct option *longopts, int *longindex);
int __wrap_getopt_long(int argc, char *const argv[], const char *shortopts,
                       const struct option *longopts, int *longindex);

/* One option per line: "--name", "--name=" when it takes an argument,
 * "-x" and "-x=" likewise. */
static void print_table(const char *shortopts, const struct option *longopts)
{
	for (const struct option *o = longopts; o && o->name; o++)
		printf("--%s%s\n", o->name, o->has_arg == required_argument ? "=" : "");
	for (const char *p = shortopts; *p; p++) {
		if (*p == ':' || *p == '+' || *p == '-')
			continue;
		printf("-%c%s\n", *p, p[1] == ':' ? "=" : "");
	}
}

/* "keyslot add" for a subcommand (argv[0] is "add" under "keyslot"),
 * else the command (mount.fuse3's argv[0] is the vault's path). */
static void command_name(const char *argv0, char *out, size_t len)
{
	if (argv0 && strcmp(argv0, lfs_cli_command) && !strchr(argv0, '/'))
		snprintf(out, len, "%s %s", lfs_cli_command, argv0);
	else
		snprintf(out, len, "%s", lfs_cli_command);
}

/* Why argv[optind - 1] was refused, as getopt_long saw it. */
static void explain(int argc, char *const argv[], const char *shortopts,
                    const struct option *longopts, char *out, size_t len)
{
	const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : NULL;
	if (!arg || strncmp(arg, "--", 2) != 0) {
		const char *p = strchr(shortopts, optopt);
		snprintf(out, len,
		         p && p[1] == ':' ? "option '-%c' needs an argument"
		                          : "unknown option '-%c'",
		         optopt);
		return;
	}
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name), matches = 0;
	const struct option *exact = NULL, *prefix = NULL;
	for (const struct option *o = longopts; o && o->name; o++) {
		if (strncmp(o->name, name, n))
			continue;
		matches++;
		prefix = o;
		if (strlen(o->name) == n)
			exact = o;
	}
	if (!exact && matches == 1) { /* an abbreviation: name the option */
		exact = prefix;
		name = prefix->name;
		n = strlen(name);
	}
	if (!exact && matches > 1)
		snprintf(out, len, "ambiguous option '--%.*s'", (int)n, name);
	else if (!exact && matches == 0)
		snprintf(out, len, "unknown option '--%.*s'", (int)n, name);
	else if (exact->has_arg == no_argument && eq)
		snprintf(out, len, "option '--%.*s' takes no argument", (int)n, name);
	else
		snprintf(out, len, "option '--%.*s' needs an argument", (int)n, name);
}

int __wrap_getopt_long(int argc, char *const argv[], const char *shortopts,
                       const struct option *longopts, int *longindex)
{
	if (lfs_cli_completing) {
		print_table(shortopts, longopts);
		exit(fflush(stdout) == 0 ? LFS_EXIT_OK : LFS_EXIT_ERROR);
	}
	opterr = 0; /* the message is ours, one line */
	optopt = 0;
	int c = __real_getopt_long(argc, argv, shortopts, longopts, longindex);
	if (c != '?' && c != ':')
		return c;
	char cmd[96], why[160];
	command_name(argc > 0 ? argv[0] : NULL, cmd, sizeof(cmd));
	explain(argc, argv, shortopts, longopts, why, sizeof(why));
	exit(lfs_cli_usage_error(cmd, "%s", why));
}
