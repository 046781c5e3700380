/* SPDX-License-Identifier: Apache-2.0 */
/* The real libc functions behind the shim's interposers, looked up once
 * with dlsym(RTLD_NEXT). */
#define _GNU_SOURCE
#include "faultshim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>

#define SHIM_DEFINE_REAL(ret, name, ...) ret (*real_##name)(__VA_ARGS__);
SHIM_REALS(SHIM_DEFINE_REAL)
#undef SHIM_DEFINE_REAL

static void load_reals(void)
{
#define SHIM_LOAD_REAL(ret, name, ...) real_##name = dlsym(RTLD_NEXT, #name);
	SHIM_REALS(SHIM_LOAD_REAL)
#undef SHIM_LOAD_REAL
}

static pthread_once_t loaded = PTHREAD_ONCE_INIT;

void shim_ensure(void)
{
	pthread_once(&loaded, load_reals);
}
