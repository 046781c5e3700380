#include "kdf_bounds.h"
#include "keyslots.h"

#include <sodium.h>

static bool above_ceiling(uint64_t ops, uint64_t mem)
{
	/* ops <= 16 and mem <= 1 GiB: the product cannot overflow. */
	return ops > LFS_KDF_CEIL_OPS || mem > LFS_KDF_CEIL_MEM || ops * mem > LFS_KDF_CEIL_WORK;
}

static enum lfs_kdf_verdict check(uint8_t type, uint64_t ops, uint64_t mem, uint64_t floor_ops,
                                  uint64_t floor_mem)
{
	if (ops < crypto_pwhash_OPSLIMIT_MIN || mem < crypto_pwhash_MEMLIMIT_MIN)
		return LFS_KDF_BELOW_FLOOR;
	if (above_ceiling(ops, mem))
		return LFS_KDF_ABOVE_CEILING;
	if (type == LFS_SLOT_PASSPHRASE && (ops < floor_ops || mem < floor_mem))
		return LFS_KDF_BELOW_FLOOR;
	return LFS_KDF_OK;
}

enum lfs_kdf_verdict lfs_kdf_bounds_open(uint8_t type, uint64_t ops, uint64_t mem)
{
	return check(type, ops, mem, LFS_KDF_OPEN_FLOOR_OPS, LFS_KDF_OPEN_FLOOR_MEM);
}

enum lfs_kdf_verdict lfs_kdf_bounds_write(uint8_t type, uint64_t ops, uint64_t mem, bool allow_weak)
{
	return allow_weak ? check(type, ops, mem, LFS_KDF_OPEN_FLOOR_OPS, LFS_KDF_OPEN_FLOOR_MEM)
	                  : check(type, ops, mem, LFS_KDF_FLOOR_OPS, LFS_KDF_FLOOR_MEM);
}
