/* SPDX-License-Identifier: Apache-2.0 */
/* Writes one or more valid inputs per fuzz target into DIR/corpus-NAME/,
 * sealed with the fixed keys of fuzz_common.h, so that each fuzzer starts
 * past the checks it could never pass by chance (magic numbers, MACs,
 * AEAD tags) and mutates from there.
 * Usage: seeds DIR */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>
#include <linux/fuse.h>

#include "../../common/bytes.h"
#include "../../fs/content.h"
#include "../../fs/dirmeta.h"
#include "../../fs/irec.h"
#include "../../rotation/upconvert.h"
#include "../../fs/names.h"
#include "../../fs/tail.h"
#include "../../journal/journal.h"
#include "../../audit/audit_line.h"
#include "../../keymgmt/config.h"
#include "../../keymgmt/kdf.h"
#include "../../keymgmt/keyring.h"
#include "../../keymgmt/keyslots.h"
#include "../../keymgmt/recovery.h"
#include "../../keymgmt/slot_labels.h"
#include "../../rotation/batch.h"
#include "../../rotation/rotjournal.h"
#include "../../staging/stage_exp.h"

static const char *top;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/corpus-%s", top, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/corpus-%s/seed-%s", top, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void seed_keyslots(void)
{
	struct lfs_keyslots ks;
	uint8_t master[32], buf[LFS_KEYSLOTS_FILE_LEN];
	memset(&ks, 0, sizeof(ks));
	fz_key(ks.uuid, sizeof(ks.uuid), FZ_SEED_UUID);
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	if (lfs_keyslot_wrap(&ks, 0, LFS_SLOT_PASSPHRASE, "pw", 2, 1, 8192 * 1024, master) != 0 ||
	    lfs_keyslot_wrap(&ks, 3, LFS_SLOT_KEYFILE, "kf", 2, 1, 8192 * 1024, master) != 0)
		exit(1);
	lfs_keyslots_encode(&ks, buf);
	put("keyslots", "two-slots", buf, sizeof(buf));
}

/* mode byte | header | body, with body either sealed (RAW) or plain. */
static void seed_keyring(void)
{
	uint8_t hdr[LFS_KEYRING_HDR_LEN] = {0}, body[8 + 2 * LFS_KEYRING_ENTRY_LEN] = {0};
	uint8_t out[1 + sizeof(hdr) + 24 + sizeof(body) + 16], master[32], wrap[32];
	memcpy(hdr, "LETHEKR1", 8);
	put_le16(hdr + 8, 1);
	put_le32(hdr + 12, 2);
	fz_key(hdr + 16, LFS_UUID_LEN, FZ_SEED_UUID);
	body[0] = LFS_CIPHER_XCHACHA20POLY1305;
	put_le32(body + 4, 2);
	for (uint32_t i = 0; i < 2; i++) {
		uint8_t *p = body + 8 + i * LFS_KEYRING_ENTRY_LEN;
		put_le32(p, i + 1);
		fz_key(p + 8, 32, (uint8_t)(0xa0 + i));
	}

	out[0] = FZ_KEYRING_RESEAL;
	memcpy(out + 1, hdr, sizeof(hdr));
	memcpy(out + 1 + sizeof(hdr), body, sizeof(body));
	put("keyring", "reseal", out, 1 + sizeof(hdr) + sizeof(body));

	out[0] = FZ_KEYRING_RAW;
	memcpy(out + 1, hdr, sizeof(hdr));
	randombytes_buf(out + 1 + sizeof(hdr), 24);
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_KEYRING);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + sizeof(hdr) + 24, NULL, body,
	                                           sizeof(body), hdr, sizeof(hdr), NULL,
	                                           out + 1 + sizeof(hdr), wrap);
	put("keyring", "raw", out, sizeof(out));
}

static void seed_config(void)
{
	struct lfs_vault_config cfg = {.format = 1, .cipher = LFS_CIPHER_AES256GCM};
	char text[1024];
	fz_key(cfg.uuid, sizeof(cfg.uuid), FZ_SEED_UUID);
	strcpy(cfg.created, "2024-05-06T07:08:09Z");
	int n = lfs_config_format(&cfg, text, sizeof(text));
	if (n < 0)
		exit(1);
	put("config", "valid", text, (size_t)n);
}

static void seed_duration(void)
{
	static const char *const valid[] = {"15min", "3 days", "1h 30m",        "1.5h",
	                                    "off",   "90",     "2 weeks 1 day", "1 year"};
	char name[16];
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		snprintf(name, sizeof(name), "valid%zu", i);
		put("duration", name, valid[i], strlen(valid[i]));
	}
}

static void seed_names(void)
{
	uint8_t mac[32], enc_key[32], dirid[16], link[32], xm[32], xe[32], xv[32];
	char enc[LFS_ENCNAME_MAX], name[201], out[LFS_BACKING_NAME_MAX + 1], side[64];
	uint8_t val[1 + LFS_XATTR_VALUE_OVERHEAD];
	fz_key(mac, 32, FZ_SEED_NAME_MAC);
	fz_key(enc_key, 32, FZ_SEED_NAME_ENC);
	fz_key(dirid, 16, FZ_SEED_DIRID);
	fz_key(link, 32, FZ_SEED_LINK);
	fz_key(xm, 32, FZ_SEED_XATTR);
	fz_key(xe, 32, FZ_SEED_XATTR + 1);
	fz_key(xv, 32, FZ_SEED_XATTR + 2);

	lfs_name_encrypt(mac, enc_key, dirid, "hello.txt", 9, enc);
	put("names", "name", enc, strlen(enc));
	memset(name, 'n', 200);
	lfs_name_encrypt(mac, enc_key, dirid, name, 200, enc);
	put("names", "long-name", enc, strlen(enc));
	lfs_backing_name(enc, out, side);
	put("names", "long-backing", out, strlen(out));
	lfs_link_encrypt(link, "../target", 9, enc);
	put("names", "link", enc, strlen(enc));
	lfs_xattr_name_encrypt(xm, xe, "comment", 7, enc);
	put("names", "xattr-name", enc, strlen(enc));
	lfs_xattr_value_seal(xv, "user.fuzz", "v", 1, val);
	put("names", "xattr-value", val, sizeof(val));
	const char *ref = "lethefs-longlink:ysXTf3sHtNC5qbS2CLzCjFX-jeOiOILvmv86xFnG07I:4095";
	put("names", "longlink-ref", ref, strlen(ref));
}

/* setfacl -m u:1000:rw,g:2000:r on a 0640 file, as the kernel passes it. */
static void seed_acl(void)
{
	static const uint8_t acl[] = {
	    2,    0, 0, 0,                         /* version */
	    0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, /* owner rw- */
	    0x02, 0, 6, 0, 0xe8, 0x03, 0,    0,    /* user 1000 rw- */
	    0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, /* group r-- */
	    0x08, 0, 4, 0, 0xd0, 0x07, 0,    0,    /* group 2000 r-- */
	    0x10, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, /* mask rw- */
	    0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, /* other --- */
	};
	put("acl", "named", acl, sizeof(acl));
	put("acl", "minimal", acl, 4 + 8);
}

static void fixed_keys(struct lfs_epoch_keys *k, uint32_t epoch)
{
	memset(k, 0, sizeof(*k));
	k->epoch = epoch;
	fz_key(k->hdr_mac, 32, FZ_SEED_HDR_MAC);
	fz_key(k->inode, 32, FZ_SEED_INODE);
}

static void fixed_record(struct lfs_irec *r, mode_t mode)
{
	if (lfs_irec_make(r, mode, 1234, 5678, mode & S_IFCHR ? 0x0105 : 0) != 0)
		exit(1);
}

/* header | block 0, with the block's final flag equal to the parity of
 * its last byte (how fuzz_content decides it): reseal until it is. */
static void seed_content_file(const char *name, enum lfs_cipher_id c, unsigned version,
                              size_t plain_len)
{
	uint8_t root[32], plain[LFS_BLOCK_SIZE] = {0};
	uint8_t file[LFS_FILE_HDR_MAX + LFS_BLOCK_SIZE + 64];
	struct lfs_file_header h;
	struct lfs_layout l;
	struct lfs_aead_key key;
	struct lfs_epoch_keys k;
	struct lfs_irec rec;
	fixed_keys(&k, 1);
	fixed_record(&rec, S_IFREG | 0640);
	fz_key(root, 32, FZ_SEED_CONTENT);
	lfs_layout_init(&l, c, version);
	lfs_header_new(&h, c, 1, version);
	if (lfs_header_encode(&h, &k, &rec, file) < 0)
		exit(1);
	lfs_file_key(&key, c, root, h.file_id);
	size_t n = plain_len + l.overhead;
	uint8_t *blk = file + l.hdr_len;
	do {
		randombytes_buf(blk, l.nonce_len);
		lfs_block_seal(&l, &key, &h, 0, true, plain, plain_len, blk);
	} while ((blk[n - 1] & 1) == 0);
	put("content", name, file, l.hdr_len + n);
}

static void seed_content(void)
{
	seed_content_file("xchacha", LFS_CIPHER_XCHACHA20POLY1305, LFS_FILE_V1, 100);
	seed_content_file("xchacha-v2", LFS_CIPHER_XCHACHA20POLY1305, LFS_FILE_V2, 100);
	if (lfs_cipher_available(LFS_CIPHER_AES256GCM)) {
		seed_content_file("aesgcm", LFS_CIPHER_AES256GCM, LFS_FILE_V1, LFS_BLOCK_SIZE);
		seed_content_file("aesgcm-v2", LFS_CIPHER_AES256GCM, LFS_FILE_V2, 1);
	}

	/* Sparse files whose block 0 is a hole (last byte even: not final). */
	static uint8_t hole[LFS_FILE_HDR_MAX + LFS_BLOCK_SIZE + 40];
	struct lfs_file_header h;
	struct lfs_epoch_keys k;
	struct lfs_irec rec;
	fixed_keys(&k, 1);
	fixed_record(&rec, S_IFREG | 0600);
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		memset(hole, 0, sizeof(hole));
		lfs_header_new(&h, LFS_CIPHER_XCHACHA20POLY1305, 1, v);
		h.flags = LFS_HDR_FLAG_SPARSE;
		lfs_header_encode(&h, &k, &rec, hole);
		put("content", v == 1 ? "hole" : "hole-v2", hole,
		    lfs_header_len(v) + LFS_BLOCK_SIZE + 40);
	}
	/* A format-2 header alone: an empty file, or a FIFO's record. */
	uint8_t hdr[LFS_FILE_HDR_MAX];
	fixed_record(&rec, S_IFIFO | 0644);
	lfs_header_new(&h, LFS_CIPHER_XCHACHA20POLY1305, 1, LFS_FILE_V2);
	lfs_header_encode(&h, &k, &rec, hdr);
	put("content", "fifo-v2", hdr, LFS_FILE_HDR_V2_LEN);

	struct lfs_dirmeta m;
	uint8_t dm[LFS_DIRMETA_MAX];
	lfs_dirmeta_new(&m, 1, 1);
	lfs_dirmeta_encode(&m, NULL, NULL, dm);
	put("content", "dirmeta", dm, LFS_DIRMETA_V1_LEN);
	fixed_record(&rec, S_IFDIR | 03775);
	lfs_dirmeta_new(&m, 1, 2);
	if (lfs_dirmeta_encode(&m, &k, &rec, dm) != LFS_DIRMETA_V2_LEN)
		exit(1);
	put("content", "dirmeta-v2", dm, LFS_DIRMETA_V2_LEN);
}

/* A record of each type, raw and sealed; a conversion payload. */
static void seed_irec(void)
{
	static const mode_t modes[] = {S_IFREG | 04755, S_IFDIR | 01777, S_IFLNK | 0777,
	                               S_IFIFO | 0600,  S_IFSOCK | 0755, S_IFCHR | 0666,
	                               S_IFBLK | 0660};
	uint8_t buf[1 + LFS_IREC_AD_LEN + LFS_IREC_SEALED_LEN], key[32];
	struct lfs_irec rec;
	fz_key(key, 32, FZ_SEED_INODE);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char name[32];
		fixed_record(&rec, modes[i]);
		buf[0] = FZ_IREC_RAW;
		lfs_irec_encode(&rec, buf + 1);
		snprintf(name, sizeof(name), "raw-%zu", i);
		put("irec", name, buf, 1 + LFS_IREC_LEN);
		buf[0] = FZ_IREC_SEALED;
		fz_key(buf + 1, LFS_IREC_AD_LEN, FZ_SEED_DIRID);
		if (lfs_irec_seal(key, buf + 1, &rec, buf + 1 + LFS_IREC_AD_LEN) != 0)
			exit(1);
		snprintf(name, sizeof(name), "sealed-%zu", i);
		put("irec", name, buf, sizeof(buf));
	}
	struct lfs_up_payload p;
	uint8_t pl[1 + LFS_UP_PAYLOAD_LEN];
	memset(&p, 0, sizeof(p));
	memcpy(p.old_hdr, "LTHF\x01", 5);
	memcpy(p.new_hdr, "LTHF\x02", 5);
	p.atime.tv_sec = 1700000000;
	p.mtime.tv_nsec = 999999999;
	p.tmp_len = 152 + 4136;
	snprintf(p.tmp_name, sizeof(p.tmp_name), ".lethefs.tmp.0123456789abcdef");
	pl[0] = FZ_IREC_PAYLOAD;
	lfs_up_payload_encode(&p, pl + 1);
	put("irec", "payload", pl, sizeof(pl));
}

/* The canonical text, and the same key typed sloppily. */
static void seed_recovery(void)
{
	uint8_t master[LFS_MASTER_KEY_LEN];
	char text[LFS_RECOVERY_TEXT_LEN + 1];
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	lfs_recovery_encode(master, text);
	put("recovery", "canonical", text, strlen(text));
	for (char *p = text; *p; p++)
		*p = *p == '-' ? ' ' : (char)(*p | 0x20);
	put("recovery", "sloppy", text + 5, strlen(text + 5));
}

/* A keyed and an unkeyed line, a head, and writer inputs (mode byte 1). */
static void seed_audit(void)
{
	struct lfs_audit_caller c = {.known = true,
	                             .uid = 0,
	                             .pid = 1,
	                             .exe = "/usr/bin/x",
	                             .loginuid = 1000,
	                             .sessionid = LFS_AUDIT_UNSET};
	struct lfs_audit_detail d[] = {{"slot", NULL, 2}, {"type", "passphrase", 0}};
	struct lfs_audit_record rec = {.seq = 3,
	                               .time_ms = 1764401856123LL,
	                               .event = "keyslot-add",
	                               .outcome = "success",
	                               .caller = &c,
	                               .details = d,
	                               .ndetails = 2};
	uint8_t key[32], prev[32];
	char buf[1 + LFS_AUDIT_LINE_MAX + 1];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(prev, sizeof(prev), FZ_SEED_UUID);
	buf[0] = 0;
	int n = lfs_audit_format_line(buf + 1, &rec, prev, key);
	put("audit", "keyed", buf, (size_t)n); /* newline dropped */
	rec.caller = NULL;
	n = lfs_audit_format_line(buf + 1, &rec, prev, NULL);
	put("audit", "unkeyed", buf, (size_t)n);
	struct lfs_audit_head h = {.seq = 5};
	memcpy(h.hash, prev, 32);
	lfs_audit_set_anchor(&h, key, 3, prev);
	n = lfs_audit_format_head(buf + 1, sizeof(buf) - 1, &h);
	put("audit", "head", buf, (size_t)n + 1);
	h.has_anchor = false;
	n = lfs_audit_format_head(buf + 1, sizeof(buf) - 1, &h);
	put("audit", "head-unanchored", buf, (size_t)n + 1);
	/* The older keyed form, {"seq","hash","mac"}. */
	n = snprintf(buf + 1, sizeof(buf) - 1, "{\"seq\":3,\"hash\":\"%064d\",\"mac\":\"%064d\"}\n",
	             0, 0);
	put("audit", "head-legacy", buf, (size_t)n + 1);
	static const char writer[] = "\x01/tmp/\xe2\x82\xac\x01\"x\0detail\n\0\xff\xfe";
	put("audit", "write", writer, sizeof(writer) - 1);
}

/* A labels file with two records, MAC'd under the fixed key. */
static void seed_labels(void)
{
	struct lfs_slot_labels l = {0};
	uint8_t key[32], uuid[16], h[32], buf[LFS_LABELS_FILE_MAX];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	memset(h, 0x5a, sizeof(h));
	if (lfs_labels_put(&l, 1, h, "Dr. X, lab admin") != 0 ||
	    lfs_labels_put(&l, 7, h, "Backup \xe2\x80\x93 Z\xc3\xbcrich") != 0)
		exit(1);
	int n = lfs_labels_encode(&l, uuid, key, buf);
	if (n < 0)
		exit(1);
	put("labels", "two", buf, (size_t)n);
}

/* journalctl-style times and spans. */
static void seed_timespec(void)
{
	static const char *const t[] = {
	    "yesterday",     "-1h 30min",  "2026-12-01 10:00", "Tue 2026-12-01T10:00:05.25+01:00",
	    "@1796119205.5", "3 days ago", "10:00 UTC",        "7d"};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%zu", i);
		put("timespec", name, t[i], strlen(t[i]));
	}
}

/* Request lines (mode 0), an answer (mode 1), a hostile string (mode 2). */
static void seed_ctlproto(void)
{
	static const char status[] = "\0lethefs-ctl 1 status\n";
	static const char lock[] = "\0lethefs-ctl 1 lock force\n";
	static const char unlock[] = "\0lethefs-ctl 1 unlock secret 28\n";
	static const char answer[] = "\1{\"ok\":false,\"error\":\"busy\",\"message\":\"2 open "
	                             "\\\"files\\\"\\u0001\",\"slot\":3}\n";
	static const char hostile[] = "\2/mnt/\xe2\x82\xac\x01\"\\\xff";
	put("ctlproto", "status", status, sizeof(status) - 1);
	put("ctlproto", "lock", lock, sizeof(lock) - 1);
	put("ctlproto", "unlock", unlock, sizeof(unlock) - 1);
	put("ctlproto", "answer", answer, sizeof(answer) - 1);
	put("ctlproto", "hostile", hostile, sizeof(hostile) - 1);
	static const char ttl[] = "\0lethefs-ctl 1 stage-ttl 8000abcd 86400\n";
	static const char sync[] = "\0lethefs-ctl 1 stage-sync\n";
	put("ctlproto", "stage-ttl", ttl, sizeof(ttl) - 1);
	put("ctlproto", "stage-sync", sync, sizeof(sync) - 1);
}

static void seed_registry(void)
{
	static const char entry[] =
	    "lethefs-mount 1\npid 4242\nsocket /run/lethefs/"
	    "0123456789abcdef0123456789abcdef.sock\nmountpoint /srv/lab data\n";
	put("registry", "entry", entry, sizeof(entry) - 1);
}

/* A staging index with two entries (mode 0). */
static void seed_stage(void)
{
	static const char index[] = "\0lethefs-staging-index 1\n"
	                            "# id created expires quota used\n"
	                            "8a3f0c21 1764400000 1764659200 0 0\n"
	                            "c0ffee01 1764400000 1764403600 1073741824 4096\n";
	put("stage", "index", index, sizeof(index) - 1);
	/* A retention record under the fuzzers' master key (mode 2). */
	static uint8_t rec[1 + LFS_STAGE_EXP_LEN];
	uint8_t master[LFS_MASTER_KEY_LEN], uuid[LFS_UUID_LEN];
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	struct lfs_keyring kr;
	lfs_keyring_init(&kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	if (lfs_keyring_generate(&kr, 2) == 0 && lfs_keyring_set_master(&kr, master) == 0) {
		struct lfs_stage_exp e = {.id = 0x8a3f0c21,
		                          .owner = 1000,
		                          .created = 1764400000,
		                          .expires = 1764659200,
		                          .quota = 4096};
		rec[0] = 2;
		lfs_stage_exp_encode(&kr, &e, rec + 1);
		put("stage", "record", rec, sizeof(rec));
	}
	lfs_keyring_destroy(&kr);
	static const char vclock[] = "\3lethefs-staging-clock 1\n1764400000\n";
	static const char hclock[] = "\3lethefs-staging-clock 1\n1764400000123 5000123 "
	                             "8d3a955d-92da-48d7-baad-709f6d299888\n";
	put("stage", "clock", vclock, sizeof(vclock) - 1);
	put("stage", "hostclock", hclock, sizeof(hclock) - 1);
}

/* A journal as the rotation writes it (mode 0), and its body alone for the
 * target to checksum (mode 1). */
static void seed_rotjournal(void)
{
	static struct lfs_rotjournal j;
	static uint8_t buf[1 + LFS_ROTJ_MAX_LEN];
	j.kind = LFS_ROTJ_FILE;
	j.dev = 0x801;
	j.ino = 123456;
	j.handle_type = 1;
	j.handle_len = 8;
	memset(j.handle, 0x42, 8);
	memset(j.old_raw, 0x11, sizeof(j.old_raw));
	memset(j.new_raw, 0x22, sizeof(j.new_raw));
	snprintf(j.path, sizeof(j.path), "QmFzZTY0/bmFtZQ");
	size_t n = lfs_rotjournal_encode(&j, buf + 1);
	buf[0] = 0;
	put("rotjournal", "file", buf, n + 1);
	buf[0] = 1;
	put("rotjournal", "body", buf, n + 1 - 16);
}

/* A rotation batch's payload: two entries, one by handle and path, one by
 * path alone, of both header versions. */
static void seed_rotbatch(void)
{
	static uint8_t payload[LFS_JOURNAL_PAYLOAD_MAX], oldh[LFS_FILE_HDR_MAX],
	    newh[LFS_FILE_HDR_MAX];
	static struct lfs_journal_target t;
	uint32_t len = 0;
	memset(oldh, 0x11, sizeof(oldh));
	memset(newh, 0x22, sizeof(newh));
	t.dev = 0x801;
	t.ino = 4242;
	t.handle_type = 1;
	t.handle_len = 8;
	memset(t.handle, 0x42, 8);
	t.path_len = (uint32_t)snprintf(t.path, sizeof(t.path), "QmFzZTY0/bmFtZQ");
	lfs_rot_batch_put(payload, &len, &t, oldh, newh, LFS_FILE_HDR_V2_LEN);
	t.handle_len = 0;
	t.ino = 4243;
	lfs_rot_batch_put(payload, &len, &t, oldh, newh, LFS_FILE_HDR_V1_LEN);
	put("rotbatch", "two", payload, len);
}

/* A sealed tail record (mode 1 re-seals it) and its payload (mode 2). */
static void seed_journal(void)
{
	static struct lfs_journal_record r;
	static uint8_t slot[1 + LFS_JOURNAL_SLOT_LEN], pivot[2][4136];
	uint8_t key[LFS_JOURNAL_KEY_LEN], uuid[16];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	struct lfs_tail t = {.old_backing = 48 + 4136 + 944,
	                     .new_backing = 48 + 2 * 4136 + 140,
	                     .check_block = 2,
	                     .pivot_block = 1,
	                     .old_pivot_len = 944,
	                     .new_pivot_len = 4136,
	                     .old_pivot = pivot[0],
	                     .new_pivot = pivot[1]};
	memset(pivot, 0x5a, sizeof(pivot));
	r.kind = LFS_JK_TAIL;
	r.seq = 7;
	r.target.dev = 0x801;
	r.target.ino = 99;
	r.target.path_len = 15;
	memcpy(r.target.path, "QmFzZTY0/bmFtZQ", 16);
	r.payload_len = (uint32_t)lfs_tail_encode(&t, r.payload);
	slot[0] = 1;
	lfs_journal_encode(key, uuid, 3, &r, slot + 1, LFS_JOURNAL_SLOT_LEN);
	put("journal", "tail-record", slot, 1 + 184 + 15 + r.payload_len);
	slot[0] = 2;
	memcpy(slot + 1, r.payload, r.payload_len);
	put("journal", "tail-payload", slot, 1 + r.payload_len);
}

/* Host names and a registration line of the main log. */
static void seed_audit_host(void)
{
	put("audit_host", "name", "lab1.example-org_2", 18);
	put("audit_host", "name-head", "lab1.head", 9);
	struct lfs_audit_detail d[] = {{"host", "lab1", 0}};
	struct lfs_audit_record rec = {.seq = 7,
	                               .time_ms = 1764401856123LL,
	                               .event = "audit-host",
	                               .outcome = "success",
	                               .details = d,
	                               .ndetails = 1};
	uint8_t key[32], prev[32];
	char buf[LFS_AUDIT_LINE_MAX + 1];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(prev, sizeof(prev), FZ_SEED_UUID);
	int n = lfs_audit_format_line(buf, &rec, prev, key);
	put("audit_host", "registration", buf, (size_t)n - 1); /* newline dropped */
}

/* fuzz_rawio: a mode byte (1: the daemon wants KILLPRIV_V2, 2: the INIT
 * offered it), then a WRITE with the kill flag, or an INIT reply. */
static void seed_rawio(void)
{
	struct __attribute__((packed)) {
		uint8_t mode;
		struct fuse_in_header h;
		struct fuse_write_in w;
	} write = {.mode = 3,
	           .h = {.len = sizeof(write) - 1, .opcode = FUSE_WRITE, .unique = 5},
	           .w = {.size = 4096, .write_flags = FUSE_WRITE_KILL_SUIDGID}};
	put("rawio", "write-kill", &write, sizeof(write));
	struct __attribute__((packed)) {
		uint8_t mode;
		struct fuse_init_out out;
	} reply = {.mode = 3, .out = {.major = 7, .minor = 38, .max_write = 1 << 20}};
	put("rawio", "init-reply", &reply, sizeof(reply));
}

int main(int argc, char **argv)
{
	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	top = argv[1];
	seed_keyslots();
	seed_keyring();
	seed_config();
	seed_duration();
	seed_names();
	seed_acl();
	seed_content();
	seed_irec();
	seed_recovery();
	seed_audit();
	seed_audit_host();
	seed_labels();
	seed_timespec();
	seed_ctlproto();
	seed_stage();
	seed_rotjournal();
	seed_rotbatch();
	seed_journal();
	seed_registry();
	seed_rawio();
	return 0;
}
