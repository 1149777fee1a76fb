/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: iscsi:// URLs as given on a command line or in a config file. */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_iscsi_url u, before;
	char *s;
	int r;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	memset(&u, 0x5a, sizeof(u));
	before = u;
	r = sgpr_iscsi_url_parse(s, &u);
	if (r == 0) {
		assert(u.host && u.host[0]);
		assert(strlen(u.host) < size);
		assert(u.port != 0);
		assert(u.lun >= 0 && u.lun <= SGPR_ISCSI_LUN_MAX);
		assert(u.target_iqn && u.target_iqn[0]);
		assert(strlen(u.target_iqn) < SGPR_ISCSI_NAME_MAX);
		for (const char *c = u.target_iqn; *c; c++)
			assert(*c > 0x20 && *c < 0x7f && !strchr("/@?#", *c));
		if (!u.host_is_v6)
			assert(!strchr(u.host, ':'));
		sgpr_iscsi_url_done(&u);
		assert(!u.host && !u.target_iqn);
	} else {
		assert(r == -EINVAL || r == -ENOMEM);
		assert(memcmp(&u, &before, sizeof(u)) == 0);
	}
	free(s);
	return 0;
}
