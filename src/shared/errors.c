/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The program side of libsgpr's error classes: exit codes, protocol words, phrases. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "errors.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* kind -> exit code and word; the kinds' meanings are in sgpr/errclass.c */
static const struct {
	int exit_code;
	const char *word;
} kinds[] = {
	[SGPR_ERR_OK] = {EXIT_OK, "ok"},
	[SGPR_ERR_RUNTIME] = {EXIT_RUNTIME, "error"},
	[SGPR_ERR_USAGE] = {EXIT_USAGE, "usage"},
	[SGPR_ERR_CONFLICT] = {EXIT_CONFLICT, "conflict"},
	[SGPR_ERR_UNSUPPORTED] = {EXIT_UNSUPPORTED, "unsupported"},
	[SGPR_ERR_UNREACHABLE] = {EXIT_UNREACHABLE, "unreachable"},
};

int exit_code_of_kind(enum sgpr_err_kind kind)
{
	return (unsigned)kind < ELEMENTSOF(kinds) ? kinds[kind].exit_code : EXIT_RUNTIME;
}

int exit_code_from_errno(int r)
{
	return exit_code_of_kind(sgpr_err_kind(r));
}

const char *kind_word(enum sgpr_err_kind kind)
{
	return (unsigned)kind < ELEMENTSOF(kinds) ? kinds[kind].word : "error";
}

const char *error_word(int r)
{
	return kind_word(sgpr_err_kind(r));
}

int exit_code_from_word(const char *word)
{
	if (!word)
		return EXIT_RUNTIME;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (strcmp(word, kinds[i].word) == 0)
			return kinds[i].exit_code;
	return EXIT_RUNTIME; /* "not-held", "busy", "denied", and words of a newer prlockd */
}

/* errno -> phrase, in the order of the table in sgpr/errclass.c */
static const struct {
	int errnum;
	const char *words;
} phrases[] = {
	{EBADE, "reservation conflict"},
	{EOPNOTSUPP, "not supported by the device"},
	{ENOTTY, "not a SCSI device (nor a dm-multipath map of SCSI paths)"},
	{EINVAL, "invalid request"},
	{ENOTBLK, "a partition: give the whole disk (or the multipath map)"},
	{ENOTCONN, "connection to the target lost"},
	{ETIMEDOUT, "timed out"},
	{ECONNREFUSED, "connection refused"},
	{ECONNRESET, "connection reset by the target"},
	{EHOSTUNREACH, "portal unreachable"},
	{ENETUNREACH, "network unreachable"},
	{ECOMM, "transport error (the command got no SCSI status)"},
	{ENXIO, "no such target or LUN"},
	{EHOSTDOWN, "target unavailable (login status 03/01: no such target on this portal, or it "
		    "is not operational)"},
	{ENOENT, "no such device"},
	{ENODEV, "device gone"},
	{EACCES, "permission denied (or login refused by the target)"},
	{EAGAIN, "target still busy or reporting unit attentions after retries"},
	{EPROTONOSUPPORT, "transport not available in this build"},
	{EIO, "the target answered with an error, or did not confirm the change"},
	{EPERM, "permission denied: SG_IO persistent reservations need CAP_SYS_RAWIO (root)"},
	{EROFS, "write protected (DATA PROTECT)"},
	{ENOMEDIUM, "no medium"},
	{EBADMSG, "malformed answer from the target"},
	{EOVERFLOW, "answer larger than a PR IN allocation length can carry"},
	{ENODATA, "the device has no usable LUN name (VPD page 0x83)"},
	{EXDEV, "the paths of this multipath map lead to different LUNs"},
	{ENOKEY, "key not registered"},
	{EPROTO, "state change not confirmed by PR IN read-back"},
	{EBUSY, "another process of this host holds a lease on this LUN"},
	{ENOLCK, "lease not held"},
	{EINTR, "interrupted"},
};

const char *errno_words(int r)
{
	for (size_t i = 0; i < ELEMENTSOF(phrases); i++)
		if (phrases[i].errnum == -r)
			return phrases[i].words;
	return strerror(-r);
}

const char *open_error_words(const char *target, int r)
{
	bool path = target && target[0] == '/';

	switch (r) {
	case -EINVAL:
		return path ? errno_words(r)
			    : "malformed target (expected iscsi://PORTAL[:PORT]/TARGET-IQN/LUN or "
			      "/dev/...)";
	case -EACCES:
		return path ? "permission denied opening the device" : errno_words(r);
	case -ENODEV:
		return path ? "no device behind this node (removed, or a map without paths)"
			    : errno_words(r);
	case -EPROTONOSUPPORT:
		return path ? "SG_IO transport not available in this build (libsgutils2, libudev)"
			    : "iSCSI transport not available in this build (libiscsi)";
	default:
		return errno_words(r);
	}
}
