/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's release, from meson's project version (SGPR_LIB_VERSION, sgpr/meson.build). */
#include "sgpr-private.h"

const char *sgpr_version(void)
{
	return SGPR_LIB_VERSION;
}
