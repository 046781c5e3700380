/* SPDX-License-Identifier: Apache-2.0 */
#include "fsck_report.h"
#include "../daemon/ctlproto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lfs_fsck_report_init(struct fsck_report *r, bool json)
{
	memset(r, 0, sizeof(*r));
	r->json = json;
	r->progress = !json && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
}

/* Wipes the progress line before anything else reaches the terminal. */
static void clear_line(struct fsck_report *r)
{
	if (!r->line_shown)
		return;
	fputs("\r\033[K", stderr);
	r->line_shown = false;
}

/* s as a JSON string (a path may be any bytes, of any length). */
static void put_json_string(const char *s)
{
	size_t cap = 6 * strlen(s) + 3, used = 0;
	char *q = malloc(cap);
	if (q && lfs_json_put_string(q, cap, &used, s) == 0)
		fputs(q, stdout);
	else
		fputs("null", stdout);
	free(q);
}

void lfs_fsck_item(struct fsck_report *r, const char *type, const char *path, const char *reason)
{
	clear_line(r);
	if (r->json) {
		printf("{\"type\":\"%s\",\"path\":", type);
		put_json_string(path);
		if (reason) {
			fputs(",\"reason\":", stdout);
			put_json_string(reason);
		}
		puts("}");
	} else if (!strcmp(type, "ok")) {
		printf("ok %s\n", path);
	} else {
		printf("%s %s: %s\n", !strcmp(type, "corrupt") ? "CORRUPT" : "PENDING", path,
		       reason ? reason : "");
	}
	fflush(stdout);
}

void lfs_fsck_note(struct fsck_report *r, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	clear_line(r);
	if (r->json) {
		fputs("{\"type\":\"note\",\"message\":", stdout);
		put_json_string(text);
		puts("}");
	} else {
		puts(text);
	}
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void lfs_fsck_tick(struct fsck_report *r, const struct fsck_counts *c)
{
	if (!r->progress || (r->line_shown && seconds_since(&r->last) < 0.25))
		return;
	clock_gettime(CLOCK_MONOTONIC, &r->last);
	fprintf(stderr,
	        "\rfsck: %lu directories, %lu files (%.1f MB), %lu symlinks, %lu problem(s), "
	        "%.0f s ",
	        c->dirs, c->files, (double)c->bytes / 1e6, c->links, c->problems,
	        seconds_since(&r->start));
	r->line_shown = true;
}

void lfs_fsck_summary(struct fsck_report *r, const struct fsck_counts *c)
{
	clear_line(r);
	double secs = seconds_since(&r->start);
	if (r->json) {
		printf("{\"type\":\"summary\",\"clean\":%s,\"directories\":%lu,\"files\":%lu,"
		       "\"symlinks\":%lu,\"bytes\":%llu,\"problems\":%lu,\"pending\":%lu,"
		       "\"seconds\":%.1f}\n",
		       c->problems ? "false" : "true", c->dirs, c->files, c->links,
		       (unsigned long long)c->bytes, c->problems, c->pending, secs);
		return;
	}
	printf("%lu directories, %lu files, %lu symlinks checked: %lu problem(s)", c->dirs,
	       c->files, c->links, c->problems);
	if (c->pending)
		printf(", %lu pending", c->pending);
	printf("\n");
}
