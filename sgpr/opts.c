/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Options structs that grow without breaking the ABI: the caller states the size of its
 * struct, as the kernel's copy_struct_from_user() (struct clone_args, struct open_how).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "sgpr-private.h"

static bool all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int sgpr_check_zero(const void *buf, size_t len)
{
	return all_zero(buf, len) ? 0 : -EINVAL;
}

int sgpr_opts_copy(void *dst, size_t dst_size, const void *src)
{
	size_t size;

	assert(dst && dst_size >= sizeof(size_t));
	memset(dst, 0, dst_size);
	if (src) {
		memcpy(&size, src, sizeof(size));
		if (size < sizeof(size_t))
			return -EINVAL; /* size not set */
		if (size > SGPR_OPTS_SIZE_MAX)
			return -E2BIG;
		/* fields of a newer header: only their zero (default) is understood here */
		if (size > dst_size && !all_zero((const uint8_t *)src + dst_size, size - dst_size))
			return -E2BIG;
		memcpy(dst, src, size < dst_size ? size : dst_size);
	}
	memcpy(dst, &dst_size, sizeof(dst_size));
	return 0;
}
