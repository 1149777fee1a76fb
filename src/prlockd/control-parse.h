/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request line of the control socket (docs/prlockd.md), parsed without the daemon:
 * control.c answers with it, tests/fuzz/fuzz-control-request.c fuzzes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Split line in place into at most max tokens of printable ASCII, exactly one space between
 * two. Returns the number of tokens (0 for an empty line), -EINVAL for a byte outside
 * 0x20..0x7e or a leading, doubled or trailing space, -E2BIG for more than max tokens.
 */
int control_split(char *line, char **tok, int max);

/*
 * The options of "acquire DEV [TYPE] [--wait SECONDS|forever]" in tok[2..n-1]. *type holds
 * the default on entry. Returns 0 and the type, whether to wait and how long (0: forever), or
 * -EINVAL and a one-line message in err.
 */
int control_parse_acquire(char *const *tok, int n, int *type, bool *wait, unsigned *wait_ms,
			  char *err, size_t errlen);
