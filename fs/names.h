/* SPDX-License-Identifier: Apache-2.0 */
/* Name encryption: file names, symlink targets and xattr names/values.
 * Pure crypto over strings; no FUSE, no file descriptors.
 *
 * File names use a deterministic SIV construction so that a lookup can
 * compute the backing name without listing the directory:
 *   tag  = BLAKE2b-128(key = name_mac, "lfsname1" | dirid | name)
 *   ct   = XChaCha20(key = name_enc, nonce = tag | 0^8) XOR name
 *   name = base64url(tag | ct)               (no padding)
 * Decryption recomputes the tag and compares in constant time, so a name
 * that was altered, or moved from another directory (other dirid), is
 * rejected. Names whose encoding exceeds 255 bytes are stored under
 * ".L" + base64url(BLAKE2b-256(encoded)) with the full encoding in a
 * sidecar file ".N" + the same hash. */
#ifndef LETHEFS_NAMES_H
#define LETHEFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LFS_DIRID_LEN    16
#define LFS_NAME_TAG_LEN 16
#define LFS_NAME_MAX     255
/* Longest backing encoding of a name: base64 of tag + 255 bytes, + NUL. */
#define LFS_ENCNAME_MAX      ((((LFS_NAME_TAG_LEN + LFS_NAME_MAX) + 2) / 3) * 4 + 1)
#define LFS_BACKING_NAME_MAX 255
#define LFS_LONG_PREFIX      ".L"
#define LFS_SIDECAR_PREFIX   ".N"
#define LFS_DIRMETA_NAME     ".lethefs.dir"
/* Temporary entries (mkdir in progress, sidecar being written). */
#define LFS_TMP_PREFIX ".lethefs.tmp."
/* Symlink targets: nonce 24 + tag 16 of overhead before base64url. */
#define LFS_LINK_OVERHEAD 40

/* Encrypts a name (1..255 bytes, no '/' or NUL, not "." or "..").
 * enc receives the full encoding (LFS_ENCNAME_MAX bytes). -EINVAL for a bad
 * name, -ENAMETOOLONG past 255 bytes. */
int lfs_name_encrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                     const uint8_t dirid[LFS_DIRID_LEN], const char *name, size_t len, char *enc);
/* Decrypts a full encoding. out holds LFS_NAME_MAX + 1. -EINVAL when it is
 * not an encoding at all, -EBADMSG when it does not authenticate. */
int lfs_name_decrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                     const uint8_t dirid[LFS_DIRID_LEN], const char *enc, size_t enc_len, char *out,
                     size_t *out_len);

/* The backing name for a full encoding: itself when short enough, else the
 * ".L<hash>" form. out holds LFS_BACKING_NAME_MAX + 1. Returns true when the
 * long form was used; then sidecar (same size) receives ".N<hash>". */
bool lfs_backing_name(const char *enc, char *out, char *sidecar);
/* Classifies a backing directory entry. */
enum lfs_entry_kind {
	LFS_ENTRY_NAME,    /* a plain encoding: decrypt it */
	LFS_ENTRY_LONG,    /* ".L<hash>": read the sidecar */
	LFS_ENTRY_META,    /* ours (dirmeta, sidecars, temp files): hide */
	LFS_ENTRY_INVALID, /* anything else: not lethefs data */
};
enum lfs_entry_kind lfs_classify_entry(const char *backing);
/* The length of the name a full encoding of enc_len characters decrypts
 * to when it authenticates (1..255), or -1 when no encoding has that
 * length. A listing reckons a reply's room by it before decrypting. */
int lfs_name_plain_len(size_t enc_len);
/* ".L<hash>" -> ".N<hash>". */
void lfs_sidecar_for_long(const char *long_name, char *sidecar);
/* Whether a sidecar's content really hashes to this long name. */
bool lfs_long_name_matches(const char *long_name, const char *enc, size_t enc_len);

/* Symlink targets (random nonce, authenticated). enc holds
 * lfs_link_encoded_len(len) + 1 bytes. */
size_t lfs_link_encoded_len(size_t plain_len);
int lfs_link_encrypt(const uint8_t key[32], const char *target, size_t len, char *enc);
/* out must hold enc_len bytes. Returns the plaintext length or -EBADMSG. */
int lfs_link_decrypt(const uint8_t key[32], const char *enc, size_t enc_len, char *out);
/* Plaintext length implied by an encoding length (for st_size). */
size_t lfs_link_plain_len(size_t enc_len);

/* xattr names (the part after "user."): the same SIV construction with the
 * xattr keys. Limited so that "user." + encoding fits XATTR_NAME_MAX. */
#define LFS_XATTR_NAME_MAX 170
int lfs_xattr_name_encrypt(const uint8_t mac_key[32], const uint8_t enc_key[32], const char *name,
                           size_t len, char *enc);
int lfs_xattr_name_decrypt(const uint8_t mac_key[32], const uint8_t enc_key[32], const char *enc,
                           size_t enc_len, char *out, size_t *out_len);
/* Attributes outside user.* that are stored (POSIX ACLs) use the same
 * construction with the plaintext name NUL || full name, e.g.
 * "\0system.posix_acl_access". Whether name (len bytes) is one; *full
 * (may be NULL) receives the full attribute name. */
bool lfs_xattr_name_reserved(const char *name, size_t len, const char **full);

/* xattr values: nonce | AEAD(value, ad = backing xattr name). */
#define LFS_XATTR_VALUE_OVERHEAD 40
int lfs_xattr_value_seal(const uint8_t key[32], const char *backing_name, const void *value,
                         size_t len, uint8_t *out);
int lfs_xattr_value_open(const uint8_t key[32], const char *backing_name, const uint8_t *in,
                         size_t in_len, void *out);

#endif
