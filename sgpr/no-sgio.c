/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built without the SG_IO transport: /dev paths and device fds are refused. */
#include "sgpr-private.h"

static int no_sgio_open(struct sgpr_dev *d, const char *target, const void *arg,
			struct sgpr_opened *ret)
{
	return -EPROTONOSUPPORT;
}

/* What is wrong with the device first (sysfs only): -ENOTTY for /dev/null here too. */
static int no_sgio_open_fd(struct sgpr_dev *d, int fd, bool is_char, dev_t rdev,
			   struct sgpr_opened *ret)
{
	struct sgpr_sgio_target t;
	int r;

	r = sgpr_sgio_resolve_devnum(NULL, is_char, rdev, &t);
	if (r < 0)
		return r;
	sgpr_sgio_target_done(&t);
	return -EPROTONOSUPPORT;
}

const struct sgpr_transport_ops sgpr_transport_sgio = {
	.name = "sg",
	.open = no_sgio_open,
	.open_fd = no_sgio_open_fd,
};
