/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: a request line of prlockd's control socket (src/prlockd/control-parse.c) as any
 * local user may send it: up to the first newline of at most PRLOCKD_REQUEST_MAX bytes, split
 * into tokens, then the arguments of acquire and protect as control.c reads them.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control-parse.h"
#include "prlockd.h"
#include "sgpr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[PRLOCKD_REQUEST_MAX], copy[PRLOCKD_REQUEST_MAX], err[PRLOCKD_REQUEST_MAX + 96];
	const uint8_t *nl;
	char *tok[6];
	size_t len;
	int n;

	if (size > sizeof(line))
		size = sizeof(line);
	nl = memchr(data, '\n', size);
	if (!nl)
		return 0; /* control.c answers "request longer than" or waits for more */
	len = (size_t)(nl - data);
	memcpy(line, data, len);
	line[len] = 0;
	len = strlen(line); /* a NUL ends the line as it does in control.c */
	memcpy(copy, line, len + 1);

	n = control_split(line, tok, 6);
	assert(n == -EINVAL || n == -E2BIG || (n >= 0 && n <= 6));
	if (n <= 0) {
		assert(n != 0 || len == 0);
		return 0;
	}
	/* the tokens are the line cut at its single spaces */
	for (int i = 0, off = 0; i < n; i++) {
		size_t tl = strlen(tok[i]);

		assert(tl > 0 && !strchr(tok[i], ' '));
		assert(tok[i] == line + off && memcmp(tok[i], copy + off, tl) == 0);
		for (size_t k = 0; k < tl; k++)
			assert(tok[i][k] >= 0x20 && tok[i][k] <= 0x7e);
		off += (int)tl;
		assert(copy[off] == (i + 1 < n ? ' ' : 0));
		off++;
	}

	if (strcmp(tok[0], "acquire") == 0 && n >= 2) {
		int type = SGPR_TYPE_WERO;
		unsigned wait_ms = 12345;
		bool wait = true;

		err[0] = 0;
		if (control_parse_acquire(tok, n, &type, &wait, &wait_ms, err, sizeof(err)) < 0) {
			assert(err[0] && strlen(err) < sizeof(err) && !strchr(err, '\n'));
		} else {
			assert(sgpr_type_to_name(type));
			assert(wait_ms <= 86400000);
			assert(!wait_ms || wait);
		}
	}
	if (strcmp(tok[0], "protect") == 0 && n == 3) {
		unsigned v;

		if (parse_uint(tok[2], 2, 0x7fffffff, &v) == 0)
			assert(v >= 2 && v <= 0x7fffffff);
	}
	return 0;
}
