/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket's request line: tokens and the options of acquire (control-parse.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "control-parse.h"
#include "sgpr.h"

int control_split(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;

	for (const char *s = line; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return -EINVAL;
	while (*p) {
		if (*p == ' ')
			return -EINVAL; /* empty token: exactly one space between tokens */
		if (n == max)
			return -E2BIG;
		tok[n++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = 0;
		if (!*p)
			return -EINVAL; /* trailing space */
	}
	return n;
}

int control_parse_acquire(char *const *tok, int n, int *type, bool *wait, unsigned *wait_ms,
			  char *err, size_t errlen)
{
	int i = 2;

	*wait = false;
	*wait_ms = 0;
	if (i < n && strcmp(tok[i], "--wait") != 0) {
		int t = sgpr_type_from_name(tok[i++]);

		if (t < 0) {
			snprintf(err, errlen, "acquire: unknown type '%s'", tok[i - 1]);
			return -EINVAL;
		}
		*type = t;
	}
	if (i < n && strcmp(tok[i], "--wait") == 0) {
		if (i + 1 >= n) {
			snprintf(err, errlen, "acquire: --wait needs SECONDS or 'forever'");
			return -EINVAL;
		}
		*wait = true;
		if (strcmp(tok[i + 1], "forever") != 0 &&
		    parse_seconds(tok[i + 1], 0, 86400000, wait_ms) < 0) {
			snprintf(err, errlen,
				 "acquire: --wait '%s': expected 0..86400 seconds or 'forever'",
				 tok[i + 1]);
			return -EINVAL;
		}
		if (strcmp(tok[i + 1], "forever") != 0 && !*wait_ms)
			*wait = false; /* --wait 0: do not wait */
		i += 2;
	}
	if (i != n) {
		snprintf(err, errlen, "usage: acquire DEV [TYPE] [--wait SECONDS|forever]");
		return -EINVAL;
	}
	return 0;
}
