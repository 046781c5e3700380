/* SPDX-License-Identifier: Apache-2.0 */
/* Test tool: unlocks a vault and prints every key lethefs could hold for
 * it, one "name hex" per line: the master key, the keys derived from it,
 * every epoch's data key and subkeys, and the content key of every file in
 * the tree. tests/integration/14-key-hygiene.bats searches core images of
 * the daemon for these bytes. Never installed. */
#define _GNU_SOURCE
#include "../../common/fileutil.h"
#include "../../fs/content.h"
#include "../../audit/audit_keyring.h"
#include "../../keymgmt/kdf.h"
#include "../../keymgmt/vault.h"
#include "tool_unlock.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const struct lfs_epoch_keys *current;

static void print_key(const char *name, const uint8_t *k)
{
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), k, 32);
	printf("%s %s\n", name, hex);
}

static int file_key(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size < LFS_FILE_HDR_V1_LEN ||
	    strstr(path, "/.lethefs"))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	struct lfs_file_header h;
	/* Headers of either version (format 1 or 2). */
	if (fd >= 0 && lfs_pread_full(fd, raw, sizeof(raw), 0, &got) == 0 &&
	    lfs_header_parse(raw, got, &h) == 0 && h.epoch == current->epoch) {
		uint8_t k[32];
		lfs_kdf_file_key(k, current->content, h.file_id);
		print_key("file", k);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: dump_keys VAULT PASSFILE\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	struct lfs_vault v;
	struct lfs_keyring kr;
	if (tool_unlock(argv[1], argv[2], &v, &kr) != 0)
		return 1;
	uint8_t master[32], k[32];
	lfs_keyring_copy_master(&kr, master);
	print_key("master", master);
	lfs_kdf_derive(k, master, 1, LFS_KDF_CTX_KEYRING);
	print_key("keyring-wrap", k);
	lfs_audit_key_from(&kr, k); /* stored since a rekey, else derived */
	print_key("audit", k);
	for (uint32_t e = 1; e < 64; e++) {
		const struct lfs_epoch_keys *ek;
		if (lfs_keyring_get(&kr, e, &ek) != 0)
			continue;
		print_key("data", ek->data_key);
		print_key("content", ek->content);
		print_key("header-mac", ek->hdr_mac);
		print_key("name-mac", ek->name_mac);
		print_key("name-enc", ek->name_enc);
		print_key("link", ek->link);
		print_key("xattr-name-mac", ek->xattr_name_mac);
		print_key("xattr-name-enc", ek->xattr_name_enc);
		print_key("xattr-value", ek->xattr_value);
		print_key("inode", ek->inode);
		print_key("iattr", ek->iattr);
		current = ek;
		char data[4200];
		snprintf(data, sizeof(data), "%s/%s", argv[1], LFS_DATA_DIR_NAME);
		nftw(data, file_key, 16, FTW_PHYS);
		lfs_keyring_put(&kr);
	}
	sodium_memzero(master, sizeof(master));
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	return 0;
}
