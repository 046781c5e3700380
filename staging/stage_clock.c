/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "stage_clock.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define CLOCK_MAGIC "lethefs-staging-clock 1\n"
#define CLOCK_MAX   256
#define NS          1000000000LL
#define MS          1000000LL /* ns per ms */

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Decimal digits, 1 to 18 of them (no sign, no overflow), and no
 * leading zero: one spelling per value. */
static const char *parse_num(const char *p, const char *end, int64_t *out)
{
	int64_t v = 0;
	const char *s = p;
	while (p < end && *p >= '0' && *p <= '9' && p - s < 18)
		v = v * 10 + (*p++ - '0');
	if (p == s || (p < end && *p >= '0' && *p <= '9') || (*s == '0' && p - s > 1))
		return NULL;
	*out = v;
	return p;
}

int lfs_stage_clock_parse(const char *text, size_t len, int64_t *mark, int64_t *boottime,
                          char boot_id[LFS_STAGE_CLOCK_BOOT_ID])
{
	size_t ml = strlen(CLOCK_MAGIC);
	if (len < ml || memcmp(text, CLOCK_MAGIC, ml) != 0)
		return -EINVAL;
	const char *p = text + ml, *end = text + len;
	if (!(p = parse_num(p, end, mark)))
		return -EINVAL;
	if (boottime) {
		if (p >= end || *p++ != ' ' || !(p = parse_num(p, end, boottime)))
			return -EINVAL;
		if (p >= end || *p++ != ' ' || end - p < LFS_STAGE_CLOCK_BOOT_ID - 1)
			return -EINVAL;
		for (int i = 0; i < LFS_STAGE_CLOCK_BOOT_ID - 1; i++) {
			char c = p[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
				return -EINVAL;
			boot_id[i] = c;
		}
		boot_id[LFS_STAGE_CLOCK_BOOT_ID - 1] = '\0';
		p += LFS_STAGE_CLOCK_BOOT_ID - 1;
	}
	return end - p == 1 && *p == '\n' ? 0 : -EINVAL;
}

int lfs_stage_clock_format(char *out, size_t len, int64_t mark, const int64_t *boottime,
                           const char *boot_id)
{
	int n = boottime ? snprintf(out, len, CLOCK_MAGIC "%" PRId64 " %" PRId64 " %s\n", mark,
	                            *boottime, boot_id)
	                 : snprintf(out, len, CLOCK_MAGIC "%" PRId64 "\n", mark);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static void read_boot_id(char out[LFS_STAGE_CLOCK_BOOT_ID])
{
	out[0] = '\0';
	unsigned char *data;
	size_t len;
	if (lfs_read_small_file(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &data, &len) < 0)
		return;
	if (len >= LFS_STAGE_CLOCK_BOOT_ID - 1) {
		memcpy(out, data, LFS_STAGE_CLOCK_BOOT_ID - 1);
		out[LFS_STAGE_CLOCK_BOOT_ID - 1] = '\0';
	}
	free(data);
}

/* /run/lethefs, when only root can have written there. */
static int open_run_dir(void)
{
	int fd = open(LFS_STAGE_CLOCK_RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void host_name(const struct lfs_stage_clock *c, char out[64])
{
	snprintf(out, 64, LFS_STAGE_CLOCK_RUN_PFX "%s", c->uuid_hex);
}

/* The host mark carried forward to now, or 0. */
static int64_t host_mark_ns(const struct lfs_stage_clock *c, int64_t mono_now)
{
	int dfd = open_run_dir();
	if (dfd < 0)
		return 0;
	char name[64], boot[LFS_STAGE_CLOCK_BOOT_ID];
	host_name(c, name);
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	struct stat st;
	char buf[CLOCK_MAX];
	ssize_t n = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    !(st.st_mode & 022))
		n = read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	int64_t mark, boottime;
	/* Both in milliseconds: seconds would lose up to one at each hop. */
	if (n <= 0 || lfs_stage_clock_parse(buf, (size_t)n, &mark, &boottime, boot) < 0 ||
	    strcmp(boot, c->boot_id) != 0 || boottime * MS > mono_now || mark > INT64_MAX / MS)
		return 0;
	return mark * MS + (mono_now - boottime * MS);
}

static int64_t vault_mark_ns(int sdirfd)
{
	unsigned char *data;
	size_t len;
	int64_t mark;
	if (sdirfd < 0 ||
	    lfs_read_small_file(sdirfd, LFS_STAGE_CLOCK_NAME, CLOCK_MAX, &data, &len) < 0)
		return 0;
	int r = lfs_stage_clock_parse((const char *)data, len, &mark, NULL, NULL);
	free(data);
	return r == 0 && mark < INT64_MAX / NS ? mark * NS : 0;
}

void lfs_stage_clock_init(struct lfs_stage_clock *c, const uint8_t uuid[16], int sdirfd)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	sodium_bin2hex(c->uuid_hex, sizeof(c->uuid_hex), uuid, 16);
	read_boot_id(c->boot_id);
	c->mono_at_ns = clock_ns(CLOCK_BOOTTIME);
	int64_t h = c->boot_id[0] ? host_mark_ns(c, c->mono_at_ns) : 0;
	int64_t v = vault_mark_ns(sdirfd);
	c->mark_ns = h > v ? h : v;
}

void lfs_stage_clock_destroy(struct lfs_stage_clock *c)
{
	pthread_mutex_destroy(&c->lock);
}

int64_t lfs_stage_clock_now(struct lfs_stage_clock *c)
{
	pthread_mutex_lock(&c->lock);
	int64_t wall = clock_ns(CLOCK_REALTIME), mono = clock_ns(CLOCK_BOOTTIME);
	int64_t carried = c->mark_ns + (mono > c->mono_at_ns ? mono - c->mono_at_ns : 0);
	c->mark_ns = wall > carried ? wall : carried;
	c->mono_at_ns = mono;
	int64_t now = c->mark_ns / NS;
	pthread_mutex_unlock(&c->lock);
	return now;
}

static void store_host(const struct lfs_stage_clock *c, int64_t mark_ns, int64_t mono)
{
	if (geteuid() != 0 || !c->boot_id[0])
		return;
	int dfd = open_run_dir();
	if (dfd < 0)
		return;
	char name[64], buf[CLOCK_MAX];
	int64_t boottime = mono / MS;
	host_name(c, name);
	/* Both in ms, rounded so that mark - boottime never exceeds the
	 * truth: the next process's clock is never ahead of this one. */
	int64_t mark = (mark_ns - mono % MS) / MS;
	int n = lfs_stage_clock_format(buf, sizeof(buf), mark, &boottime, c->boot_id);
	if (n > 0 && lfs_replace_file(dfd, name, buf, (size_t)n, 0644) < 0)
		lfs_debug("cannot store the staging clock in %s: %s", LFS_STAGE_CLOCK_RUN_DIR,
		          strerror(errno));
	close(dfd);
}

void lfs_stage_clock_store(struct lfs_stage_clock *c, int sdirfd, bool force)
{
	int64_t now = lfs_stage_clock_now(c);
	pthread_mutex_lock(&c->lock);
	bool due = force || now - c->stored >= LFS_STAGE_CLOCK_STORE_S;
	int64_t mono = c->mono_at_ns, mark_ns = c->mark_ns;
	if (due)
		c->stored = now;
	pthread_mutex_unlock(&c->lock);
	if (!due)
		return;
	char buf[CLOCK_MAX];
	int n = lfs_stage_clock_format(buf, sizeof(buf), now, NULL, NULL);
	if (sdirfd >= 0 && n > 0) {
		int r = lfs_replace_file(sdirfd, LFS_STAGE_CLOCK_NAME, buf, (size_t)n, 0600);
		if (r < 0)
			lfs_debug("cannot store the staging clock: %s", strerror(-r));
	}
	store_host(c, mark_ns, mono);
}
