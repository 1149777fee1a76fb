/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A short phrase for a -errno of libsgpr ("reservation conflict", "timed out", ...). */
const char *errno_words(int r);
