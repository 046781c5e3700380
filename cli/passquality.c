/* SPDX-License-Identifier: Apache-2.0 */
#include "passquality.h"
#include "cli_error.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The first guesses of every cracking list. */
static const char *const common[] = {
    "password", "passwort", "123456",  "12345678",   "123456789",     "qwerty", "qwertz",
    "azerty",   "letmein",  "welcome", "admin",      "administrator", "secret", "changeme",
    "iloveyou", "monkey",   "dragon",  "abc123",     "root",          "toor",   "lethefs",
    "default",  "login",    "master",  "passphrase", "test",          "geheim", "hallo",
};

/* The passphrase without trailing digits and symbols, lowercased, is a
 * common one ("Password1!" is "password"). */
static bool is_common(const uint8_t *p, size_t len)
{
	char core[32];
	while (len > 0 && !isalpha(p[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(core))
		return false;
	for (size_t i = 0; i < len; i++)
		core[i] = (char)tolower(p[i]);
	core[len] = '\0';
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (!strcmp(core, common[i]))
			return true;
	return false;
}

unsigned lfs_passphrase_bits(const char *text, size_t len)
{
	const uint8_t *p = (const uint8_t *)text;
	if (len == 0 || is_common(p, len))
		return 0;
	bool lower = false, upper = false, digit = false, other = false, high = false;
	size_t fresh = 0; /* characters that neither repeat nor continue a run */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		lower |= islower(c) != 0;
		upper |= isupper(c) != 0;
		digit |= isdigit(c) != 0;
		high |= c >= 0x80;
		other |= c < 0x80 && !isalnum(c);
		int d = i ? (int)c - (int)p[i - 1] : 99;
		fresh += d < -1 || d > 1;
	}
	unsigned pool = 26u * lower + 26u * upper + 10u * digit + 33u * other + 64u * high;
	double bits = (double)fresh * log2((double)pool) + (double)(len - fresh);
	return bits > 1000 ? 1000 : (unsigned)bits;
}

void lfs_warn_weak_passphrase(const char *p, size_t len)
{
	unsigned bits = lfs_passphrase_bits(p, len);
	if (bits >= LFS_PASSPHRASE_WEAK_BITS)
		return;
	lfs_cli_error("warning: this passphrase is weak (%zu characters, about %u bits by a rough "
	              "estimate): whoever copies the vault can guess it offline. Five or more "
	              "random words, or 16 or more random characters, are far stronger.",
	              len, bits);
}
