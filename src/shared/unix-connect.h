/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connect to a unix stream socket by path: prlock (control socket), prh-client, prh-bench. */
#pragma once

/* A connected SOCK_STREAM fd (close-on-exec) to the socket at path, or -errno (-ENAMETOOLONG
 * for a path that does not fit in sun_path). */
int unix_connect(const char *path);
