/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The handle's log hook (struct sgpr_dev_opts.log_fn), used by every layer:
 * the library never prints; without a hook it is silent.
 */
#include <stdio.h>

#include "sgpr-private.h"

void sgpr_log(struct sgpr_dev *d, int priority, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!d || !d->opts.log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->opts.log_fn(d->opts.log_userdata, priority, msg);
}
