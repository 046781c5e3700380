/* SPDX-License-Identifier: Apache-2.0 */
/* Test tool: says why a backing file does not read back. Unlocks the vault
 * (a copy is fine) and, for the backing file given, checks the header and
 * opens every block as the layout expects it (final only for the last
 * block the backing length implies). Each block that fails is tried again
 * with the other final flag, and as every other block number near it, so
 * that a stale last block, a block written at the wrong place and a torn
 * block can be told apart. With journals named after the file, prints
 * every authentic record in them (kind, seq, target; a tail record's
 * lengths and blocks). Reads only; never installed. Used to decode what a
 * failing shared-mode test left (tests/fault/KNOWN-FAILURES.md, cause D).
 *
 *   block_probe VAULT PASSFILE BACKING_FILE [JOURNAL_NAME...] */
#define _GNU_SOURCE
#include "../../common/fileutil.h"
#include "../../fs/content.h"
#include "../../fs/tail.h"
#include "../../journal/journal.h"
#include "../../keymgmt/vault.h"
#include "tool_unlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

static int probe_file(struct lfs_keyring *kr, enum lfs_cipher_id cipher, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	struct stat st;
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	struct lfs_file_header h;
	if (fstat(fd, &st) < 0 || lfs_pread_full(fd, raw, sizeof(raw), 0, &got) < 0 ||
	    lfs_header_parse(raw, got, &h) < 0) {
		printf("header: does not parse (backing %lld bytes)\n", (long long)st.st_size);
		close(fd);
		return 1;
	}
	struct lfs_layout l;
	lfs_layout_init(&l, cipher, h.version);
	const struct lfs_epoch_keys *e;
	if (lfs_keyring_get(kr, h.epoch, &e) < 0) {
		printf("header: epoch %u not in the keyring\n", h.epoch);
		close(fd);
		return 1;
	}
	struct lfs_irec rec;
	int hv = lfs_header_verify(raw, &h, e, &rec);
	struct lfs_aead_key k;
	lfs_file_key(&k, cipher, e->content, h.file_id);
	lfs_keyring_put(kr);
	uint64_t plain = 0;
	bool whole = lfs_plain_size(&l, (uint64_t)st.st_size, &plain);
	uint64_t nblocks =
	    st.st_size > (off_t)l.hdr_len
	        ? ((uint64_t)st.st_size - l.hdr_len + l.block_disk - 1) / l.block_disk
	        : 0;
	printf("header: version %u epoch %u flags 0x%x %s; backing %lld bytes, %s plaintext %llu, "
	       "%llu stored blocks\n",
	       h.version, h.epoch, h.flags, hv == 0 ? "authentic" : "DOES NOT AUTHENTICATE",
	       (long long)st.st_size, whole ? "well-formed," : "MALFORMED length, intact prefix",
	       (unsigned long long)plain, (unsigned long long)nblocks);
	uint8_t *disk = malloc(l.block_disk);
	uint8_t *pt = sodium_malloc(LFS_BLOCK_SIZE);
	unsigned bad = 0;
	for (uint64_t b = 0; disk && pt && b < nblocks; b++) {
		uint64_t at = lfs_block_offset(&l, b);
		size_t len =
		    (size_t)((uint64_t)st.st_size - at < l.block_disk ? (uint64_t)st.st_size - at
		                                                      : l.block_disk);
		if (lfs_pread_full(fd, disk, len, (off_t)at, &got) < 0 || got != len)
			break;
		bool final = b == nblocks - 1;
		if (lfs_block_open(&l, &k, &h, b, final, disk, len, pt) >= 0)
			continue;
		bad++;
		printf("block %llu (stored %zu bytes at %llu, expected final=%d): does not open",
		       (unsigned long long)b, len, (unsigned long long)at, final);
		int n = lfs_block_open(&l, &k, &h, b, !final, disk, len, pt);
		if (n >= 0)
			printf("; opens as final=%d (%d plaintext bytes)", !final, n);
		for (uint64_t o = b > 64 ? b - 64 : 0; n < 0 && o < b + 64; o++)
			for (int f = 0; f < 2 && n < 0 && o != b; f++)
				if ((n = lfs_block_open(&l, &k, &h, o, f, disk, len, pt)) >= 0)
					printf("; opens as block %llu final=%d",
					       (unsigned long long)o, f);
		/* The first page boundary inside the block: a torn write leaves
		 * the two sides from different writes. */
		size_t page = (size_t)(4096 - at % 4096);
		if (n < 0)
			printf("; all zero: %s; page boundary at +%zu",
			       sodium_is_zero(disk, len) ? "yes" : "no", page);
		printf("\n");
	}
	printf("%u block(s) fail\n", bad);
	lfs_aead_key_wipe(&k);
	sodium_free(pt);
	free(disk);
	close(fd);
	return bad ? 1 : 0;
}

static int print_record(void *arg, const struct lfs_journal_record *r)
{
	const enum lfs_cipher_id *cipher = arg;
	printf("  record seq %llu kind %u target d/%s ino %llu payload %u bulk %u",
	       (unsigned long long)r->seq, r->kind, r->target.path_len ? r->target.path : "",
	       (unsigned long long)r->target.ino, r->payload_len, r->bulk_len);
	if (r->kind == LFS_JK_TAIL) {
		for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
			struct lfs_layout l;
			struct lfs_tail t;
			lfs_layout_init(&l, *cipher, v);
			if (lfs_tail_decode(r->payload, r->payload_len, &l, &t) < 0)
				continue;
			printf("\n    tail (v%u layout): backing %llu -> %llu, pivot %lld (old %u, "
			       "new "
			       "%u bytes), check %lld",
			       v, (unsigned long long)t.old_backing,
			       (unsigned long long)t.new_backing,
			       t.pivot_block == LFS_TAIL_NONE ? -1LL : (long long)t.pivot_block,
			       t.old_pivot_len, t.new_pivot_len,
			       t.check_block == LFS_TAIL_NONE ? -1LL : (long long)t.check_block);
		}
	}
	printf("\n");
	return -EAGAIN; /* left in place: this tool only reads */
}

static void dump_journal(struct lfs_vault *v, struct lfs_keyring *kr, const char *name)
{
	struct lfs_journal j;
	int r = lfs_journal_open_named(&j, v->dirfd, name, v->cfg.uuid, false, 0);
	if (r < 0) {
		printf("journal %s: %s\n", name, strerror(-r));
		return;
	}
	unsigned pending = 0, rejected = 0;
	lfs_journal_pending(&j, &pending);
	printf("journal %s: %u slot(s) in use\n", name, pending);
	uint8_t key[LFS_JOURNAL_KEY_LEN];
	if (lfs_keyring_copy_journal_key(kr, key) == 0) {
		enum lfs_cipher_id cipher = v->cfg.cipher;
		r = lfs_journal_replay(&j, key, print_record, &cipher, &rejected);
		printf("  %u record(s) do not authenticate%s\n", rejected,
		       r < 0 ? " (replay failed)" : "");
	}
	sodium_memzero(key, sizeof(key));
	lfs_journal_close(&j);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: block_probe VAULT PASSFILE BACKING_FILE [JOURNAL_NAME...]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	struct lfs_vault v;
	struct lfs_keyring kr;
	if (tool_unlock(argv[1], argv[2], &v, &kr) != 0)
		return 1;
	int rc = probe_file(&kr, v.cfg.cipher, argv[3]);
	for (int i = 4; i < argc; i++)
		dump_journal(&v, &kr, argv[i]);
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	return rc;
}
