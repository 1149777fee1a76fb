/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built when libiscsi is missing: iscsi:// targets are refused. */
#include "sgpr-private.h"

static int no_iscsi_open(struct sgpr_dev *d, const char *target, const void *arg,
			 struct sgpr_opened *ret)
{
	return -EPROTONOSUPPORT;
}

const struct sgpr_transport_ops sgpr_transport_iscsi = {
	.name = "iscsi",
	.open = no_iscsi_open,
};
