/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The program side of libsgpr's error classes (sgpr_err_kind(), sgpr/errclass.c): one exit
 * code and one control-protocol word per kind, one phrase per errno. prlock, prlockd and
 * sgpr-io use these and nothing else, so the same failure reads and exits the same way
 * through every program.
 */
#pragma once

#include "sgpr.h"

/* EXIT STATUS of prlock(8) (DESIGN.md "prlock") */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_CONFLICT = 3,
	EXIT_UNSUPPORTED = 4,
	EXIT_UNREACHABLE = 5,
	EXIT_NO_RESERVATION = 6,
};

/* The exit code of a kind. */
int exit_code_of_kind(enum sgpr_err_kind kind);
/* The exit code of a return value of libsgpr: exit_code_of_kind(sgpr_err_kind(r)). */
int exit_code_from_errno(int r);
/*
 * The word of a kind in prlockd's control protocol (docs/prlockd.md) and in sgpr-io's
 * answers: "ok", "error", "usage", "conflict", "unsupported", "unreachable".
 */
const char *kind_word(enum sgpr_err_kind kind);
/* kind_word(sgpr_err_kind(r)) */
const char *error_word(int r);
/*
 * The exit code of an error word of the control protocol: the kind words above, and the
 * words prlockd uses for its own refusals ("not-held", "busy", "denied": EXIT_RUNTIME).
 */
int exit_code_from_word(const char *word);
/* A short phrase for a -errno of libsgpr ("reservation conflict", "timed out", ...). */
const char *errno_words(int r);
/* The same for a failed sgpr_dev_open(target): the words name the target's form. */
const char *open_error_words(const char *target, int r);
