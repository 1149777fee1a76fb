/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built without the SG_IO transport: /dev paths are refused. */
#include "sgpr-private.h"

static int no_sgio_open(struct sgpr_dev *d, const char *target)
{
	return -EPROTONOSUPPORT;
}

const struct sgpr_transport_ops sgpr_transport_sgio = {
	.name = "sg",
	.open = no_sgio_open,
};
