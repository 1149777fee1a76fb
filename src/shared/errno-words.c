/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The words for -errno values of libsgpr, for prlock's and prlockd's messages. */
#include <errno.h>
#include <string.h>

#include "errno-words.h"

const char *errno_words(int r)
{
	switch (r) {
	case -EBADE:
		return "reservation conflict";
	case -EOPNOTSUPP:
		return "not supported by the device";
	case -ENOTCONN:
		return "connection to the target lost";
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNREFUSED:
		return "connection refused";
	case -EHOSTUNREACH:
		return "portal unreachable";
	case -ENXIO:
		return "no such target or LUN";
	case -EACCES:
		return "permission denied (or login refused by the target)";
	case -EAGAIN:
		return "target still busy or reporting unit attentions after retries";
	case -EPROTONOSUPPORT:
		return "transport not available in this build";
	case -EBADMSG:
		return "malformed answer from the target";
	case -EOVERFLOW:
		return "answer larger than a PR IN allocation length can carry";
	case -ENOKEY:
		return "key not registered";
	case -ENOTTY:
		return "not a SCSI device (nor a dm-multipath map of SCSI paths)";
	case -ENOTBLK:
		return "a partition: give the whole disk (or the multipath map)";
	case -EPERM:
		return "permission denied: SG_IO persistent reservations need CAP_SYS_RAWIO (root)";
	case -ENODEV:
		return "device gone";
	case -EINTR:
		return "interrupted";
	case -ENOENT:
		return "no such device";
	case -EINVAL:
		return "invalid argument (a device must be iscsi://PORTAL[:PORT]/TARGET-IQN/LUN or "
		       "/dev/...)";
	default:
		return strerror(-r);
	}
}
