/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds on the Argon2id parameters of a keyslot. The parameters are
 * stored beside the slot and, although authenticated, a slot edited by
 * whoever can write the vault is read before it fails to open: bounds
 * decide what is run at all.
 *
 * - Ceiling (every slot, opened or written): a slot whose parameters would
 *   take minutes (libsodium allows 4 GiB and 2^32-1 passes) is not run, so
 *   that one edited slot cannot stall every unlock while the unlock lock
 *   is held.
 * - Floor for passphrase slots: written at least with LFS_KDF_FLOOR_*
 *   (libsodium's "interactive" level), unless the writer asked for weaker
 *   parameters explicitly (--allow-weak-kdf, for tests); never opened
 *   below LFS_KDF_OPEN_FLOOR_*, the cheapest setting any lethefs wrote
 *   with that flag's predecessor (the test vaults of format 1). Key-file
 *   and extpass slots hold random secrets where Argon2id only adds cost
 *   per guess; they have no floor beyond libsodium's minimum.
 * docs/KEYS.md explains the choice. */
#ifndef LETHEFS_KDF_BOUNDS_H
#define LETHEFS_KDF_BOUNDS_H

#include <stdbool.h>
#include <stdint.h>

#define LFS_KDF_FLOOR_OPS      2ULL
#define LFS_KDF_FLOOR_MEM      (64ULL << 20)
#define LFS_KDF_OPEN_FLOOR_OPS 1ULL
#define LFS_KDF_OPEN_FLOOR_MEM (8ULL << 20)
#define LFS_KDF_CEIL_OPS       16ULL
#define LFS_KDF_CEIL_MEM       (1ULL << 30)
/* passes x memory: 4 passes over 1 GiB took 6.7 s on the 2-core test
 * machine, the default (3 passes over 256 MiB) 0.6 s. */
#define LFS_KDF_CEIL_WORK (4ULL << 30)

enum lfs_kdf_verdict {
	LFS_KDF_OK = 0,
	LFS_KDF_BELOW_FLOOR,
	LFS_KDF_ABOVE_CEILING,
};

/* May a slot of this type (enum lfs_slot_type) with these parameters be
 * run to open it? */
enum lfs_kdf_verdict lfs_kdf_bounds_open(uint8_t type, uint64_t ops, uint64_t mem);
/* May a new slot be written with them? allow_weak lowers the passphrase
 * floor to the opening floor. */
enum lfs_kdf_verdict lfs_kdf_bounds_write(uint8_t type, uint64_t ops, uint64_t mem,
                                          bool allow_weak);

#endif
