/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one classification of libsgpr's errors: every errno the library returns,
 * its one meaning, and its kind (enum sgpr_err_kind), which decides what the
 * caller does next. prlock's exit code, prlockd's control-protocol word,
 * sgpr-io's answer and the lease engine's "unreachable is not a loss" all come
 * from this table (the words are in src/shared/errors.c). tests/unit/test-errclass.c
 * checks every row, and that every errno in sgpr/ has one.
 */
#include "sgpr-private.h"

static const struct {
	int errnum;
	enum sgpr_err_kind kind;
} table[] = {
	/* RESERVATION CONFLICT, or held by another key (an all-registrants reservation
	 * is never a lease) */
	{EBADE, SGPR_ERR_CONFLICT},
	/* the device lacks the service action, type or bit (ILLEGAL REQUEST 20/00,
	 * 24/00, 26/00) */
	{EOPNOTSUPP, SGPR_ERR_UNSUPPORTED},
	/* not a SCSI device: the node does not take SG_IO */
	{ENOTTY, SGPR_ERR_UNSUPPORTED},
	/* an invalid request: an argument libsgpr refuses (malformed URL, key, type,
	 * options), or one the target refuses with another ILLEGAL REQUEST */
	{EINVAL, SGPR_ERR_USAGE},
	/* a partition where the whole disk is needed */
	{ENOTBLK, SGPR_ERR_USAGE},
	/* the session or path is down (after the reconnect attempts) */
	{ENOTCONN, SGPR_ERR_UNREACHABLE},
	/* a command, login, connect or name lookup timed out */
	{ETIMEDOUT, SGPR_ERR_UNREACHABLE},
	/* nothing listens on the portal */
	{ECONNREFUSED, SGPR_ERR_UNREACHABLE},
	/* the target closed the connection (during login) */
	{ECONNRESET, SGPR_ERR_UNREACHABLE},
	/* the portal's name does not resolve, or no route to it */
	{EHOSTUNREACH, SGPR_ERR_UNREACHABLE},
	/* no route to the portal's network */
	{ENETUNREACH, SGPR_ERR_UNREACHABLE},
	/* the transport failed the command or login without a SCSI status (host or
	 * driver error, iSCSI login target error or redirect) */
	{ECOMM, SGPR_ERR_UNREACHABLE},
	/* no such iSCSI target or LUN (or the target hides it from this initiator) */
	{ENXIO, SGPR_ERR_UNREACHABLE},
	/* the iSCSI login was refused with 03/01 SERVICE UNAVAILABLE: LIO's answer for a target
	 * name it does not have, or a target not operational (yet) */
	{EHOSTDOWN, SGPR_ERR_UNREACHABLE},
	/* no such device node */
	{ENOENT, SGPR_ERR_UNREACHABLE},
	/* the device is gone (removed, or a multipath map without paths) */
	{ENODEV, SGPR_ERR_UNREACHABLE},
	/* not let in: the device node's permissions, or the target refused the login */
	{EACCES, SGPR_ERR_UNREACHABLE},
	/* the target answered but did not execute the command through the bounded
	 * retries: BUSY, TASK SET FULL, TASK ABORTED, NOT READY becoming ready, ABORTED
	 * COMMAND, UNIT ATTENTION */
	{EAGAIN, SGPR_ERR_UNREACHABLE},
	/* the transport of this target is not built in */
	{EPROTONOSUPPORT, SGPR_ERR_UNREACHABLE},
	/* the target answered, but not with an outcome we can act on: a CHECK CONDITION
	 * not classified further (MEDIUM or HARDWARE ERROR, NOT READY needing intervention,
	 * no usable sense), another status (ACA ACTIVE), or a state read back that does not
	 * confirm what the command should have done */
	{EIO, SGPR_ERR_RUNTIME},
	/* a reservation change the target accepted that READ RESERVATION does not confirm
	 * (a park, a takeover) */
	{EPROTO, SGPR_ERR_RUNTIME},
	/* SG_IO refused PERSISTENT RESERVE IN/OUT: CAP_SYS_RAWIO needed */
	{EPERM, SGPR_ERR_RUNTIME},
	/* DATA PROTECT */
	{EROFS, SGPR_ERR_RUNTIME},
	/* NOT READY, medium not present */
	{ENOMEDIUM, SGPR_ERR_RUNTIME},
	/* a malformed answer from the target */
	{EBADMSG, SGPR_ERR_RUNTIME},
	/* an answer larger than a PR IN allocation length can carry */
	{EOVERFLOW, SGPR_ERR_RUNTIME},
	/* VPD page 0x83 has no usable designator */
	{ENODATA, SGPR_ERR_RUNTIME},
	/* the paths of a multipath map name different LUNs */
	{EXDEV, SGPR_ERR_RUNTIME},
	/* the key to adopt is not registered */
	{ENOKEY, SGPR_ERR_RUNTIME},
	/* the lease is not held (renew) */
	{ENOLCK, SGPR_ERR_RUNTIME},
	/* out of memory */
	{ENOMEM, SGPR_ERR_RUNTIME},
	/* a buffer too small for an encoding */
	{ENOBUFS, SGPR_ERR_RUNTIME},
	/* too many paths */
	{E2BIG, SGPR_ERR_RUNTIME},
	/* a number out of range */
	{ERANGE, SGPR_ERR_RUNTIME},
	/* SG_IO interrupted by a signal */
	{EINTR, SGPR_ERR_RUNTIME},
	/* not a usable descriptor (sgpr_dev_open_fd()) */
	{EBADF, SGPR_ERR_RUNTIME},
	/* a sysfs path too long */
	{ENAMETOOLONG, SGPR_ERR_RUNTIME},
	/* the sim transport only: a LUN of that name exists */
	{EEXIST, SGPR_ERR_RUNTIME},
	/* any other errno (-errno of a system call passed on): SGPR_ERR_RUNTIME */
};

enum sgpr_err_kind sgpr_err_kind(int r)
{
	if (r >= 0)
		return SGPR_ERR_OK;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].errnum == -r)
			return table[i].kind;
	return SGPR_ERR_RUNTIME;
}
