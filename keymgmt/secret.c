/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "secret.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

void lfs_secret_free(struct lfs_secret *s)
{
	if (s->data)
		sodium_free(s->data);
	s->data = NULL;
	s->len = 0;
}

/* How a source's bytes become the secret. */
struct slurp_rule {
	size_t max;
	bool strip_newline; /* files and programs usually end with one */
	const char *noun;   /* "passphrase" or "key file" */
};

static const struct slurp_rule passphrase_rule = {LFS_SECRET_MAX, true, "passphrase"};
static const struct slurp_rule keyfile_rule = {LFS_KEYFILE_MAX, false, "key file"};

/* Reads at most rule->max bytes from fd into s. */
static int slurp(int fd, struct lfs_secret *s, char *err, size_t errlen, const char *what,
                 const struct slurp_rule *rule)
{
	s->data = sodium_malloc(rule->max + 1);
	if (!s->data)
		return -ENOMEM;
	size_t got;
	int r = lfs_read_all(fd, s->data, rule->max + 1, &got);
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s from %s: %s", rule->noun, what, strerror(-r));
		lfs_secret_free(s);
		return r;
	}
	if (got > rule->max) {
		snprintf(err, errlen, "%s from %s is longer than %zu bytes", rule->noun, what,
		         rule->max);
		lfs_secret_free(s);
		return -EINVAL;
	}
	if (rule->strip_newline && got > 0 && s->data[got - 1] == '\n')
		got--;
	if (rule->strip_newline && got > 0 && s->data[got - 1] == '\r')
		got--;
	if (got == 0) {
		snprintf(err, errlen, "%s from %s is empty", rule->noun, what);
		lfs_secret_free(s);
		return -EINVAL;
	}
	s->len = got;
	return 0;
}

static int from_file(const char *path, struct lfs_secret *s, char *err, size_t errlen,
                     const struct slurp_rule *rule)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s file %s: %s", rule->noun, path, strerror(e));
		return -e;
	}
	int r = slurp(fd, s, err, errlen, path, rule);
	close(fd);
	return r;
}

static int from_program(const char *cmd, struct lfs_secret *s, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	int r = slurp(p[0], s, err, errlen, "--extpass program", &passphrase_rule);
	close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		snprintf(err, errlen, "--extpass program '%s' failed (status %d)", cmd,
		         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		lfs_secret_free(s);
		r = -EIO;
	}
	return r;
}

static int ask_tty(int tty, const char *prompt, struct lfs_secret *s, char *err, size_t errlen)
{
	struct termios old, quiet;
	if (tcgetattr(tty, &old) < 0)
		return -errno;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off (discarding what was typed before the prompt) first, then
	 * the prompt: the other order threw away an answer typed as soon as
	 * the prompt showed (a script, expect, a fast typist), and the read
	 * then waited for ever. */
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0)
		return -errno;
	if (write(tty, prompt, strlen(prompt)) < 0) {
		int e = errno;
		tcsetattr(tty, TCSANOW, &old);
		return -e;
	}
	s->data = sodium_malloc(LFS_SECRET_MAX + 2);
	ssize_t n = s->data ? read(tty, s->data, LFS_SECRET_MAX + 1) : -1;
	if (tcsetattr(tty, TCSANOW, &old) < 0) {
		/* The terminal stays without echo; the secret is read anyway. */
	}
	if (write(tty, "\n", 1) < 0) {
		/* The prompt's newline is cosmetic. */
	}
	if (!s->data)
		return -ENOMEM;
	if (n <= 0 || s->data[n - 1] != '\n') {
		snprintf(err, errlen,
		         n > LFS_SECRET_MAX ? "passphrase too long" : "no passphrase entered");
		lfs_secret_free(s);
		return -EINVAL;
	}
	s->len = (size_t)n - 1;
	if (s->len == 0) {
		snprintf(err, errlen, "empty passphrase refused");
		lfs_secret_free(s);
		return -EINVAL;
	}
	return 0;
}

static int from_terminal(const char *prompt, bool confirm, struct lfs_secret *s, char *err,
                         size_t errlen)
{
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		snprintf(err, errlen,
		         "no terminal to ask for the secret; use --passfile, --passfd, "
		         "--extpass or --keyfile");
		return -ENXIO;
	}
	int r = ask_tty(tty, prompt, s, err, errlen);
	if (r == 0 && confirm) {
		struct lfs_secret again = {0};
		r = ask_tty(tty, "Repeat passphrase: ", &again, err, errlen);
		if (r == 0 && (again.len != s->len || sodium_memcmp(again.data, s->data, s->len))) {
			snprintf(err, errlen, "passphrases do not match");
			r = -EINVAL;
		}
		lfs_secret_free(&again);
		if (r < 0)
			lfs_secret_free(s);
	}
	close(tty);
	return r;
}

int lfs_secret_read(const struct lfs_secret_source *src, bool confirm, const char *prompt,
                    struct lfs_secret *out, char *err, size_t errlen)
{
	out->data = NULL;
	out->len = 0;
	int given = (src->passfile != NULL) + (src->passfd >= 0) + (src->extpass != NULL) +
	            (src->keyfile != NULL);
	if (given > 1) {
		snprintf(err, errlen,
		         "give only one of --passfile, --passfd, --extpass and --keyfile");
		return -EINVAL;
	}
	if (src->passfile)
		return from_file(src->passfile, out, err, errlen, &passphrase_rule);
	if (src->keyfile)
		return from_file(src->keyfile, out, err, errlen, &keyfile_rule);
	if (src->passfd >= 0) {
		char what[32];
		snprintf(what, sizeof(what), "descriptor %d", src->passfd);
		return slurp(src->passfd, out, err, errlen, what, &passphrase_rule);
	}
	if (src->extpass)
		return from_program(src->extpass, out, err, errlen);
	return from_terminal(src->recovery ? "Recovery key: " : prompt, confirm, out, err, errlen);
}
