/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pr-manager-helper server: QEMU's "-object pr-manager-helper,path=SOCKET" talks to it as
 * to qemu-pr-helper (shared/refs/qemu-pr-helper-protocol.md; wire format in prh-proto.h).
 *
 * Threads (details in prh-server.c): one accept thread, one watchdog, and one thread per
 * connection that reads requests strictly one at a time and runs each on the device itself; no
 * thread per request. When a device call outlives request_timeout_ms the watchdog answers CHECK
 * CONDITION ABORTED COMMAND / COMMAND TIMEOUT (0B/2E/02), abandons the stuck thread and gives the
 * connection to a new one, so a hung device blocks neither other connections nor the reply; at
 * most max_abandoned threads are abandoned at once, then requests are answered BUSY. Every
 * thread blocks all signals: signals stay with the caller, who calls prh_server_stop() on
 * SIGTERM.
 *
 * Limits for hostile clients: connections in total, per uid and per pid (closed at accept); the
 * handshake and the rest of a request begun within handshake_timeout_ms (else closed).
 *
 * Per request: the fd received with the CDB (SCM_RIGHTS, MSG_CMSG_CLOEXEC) is checked (block or
 * char device; PR OUT needs it opened for writing). The first request on a device opens it with
 * sgpr_dev_open_fd(), and the connection keeps that handle for the next requests on the same
 * device number (dm-multipath maps excepted): the commands run on (a duplicate of) QEMU's fd, as in
 * qemu-pr-helper, so a single disk or sg device needs only CAP_SYS_RAWIO, no right to open /dev
 * nodes. libsgpr validates the device from its number through sysfs (non-SCSI devices, partitions
 * and other dm devices refused) and expands a dm-multipath map to its paths, which it opens by name
 * (/dev/sdX of /sys/block/dm-N/slaves): multipath needs the right to open those nodes too
 * (uid 0 or the disk group), as qemu-pr-helper's libmpathpersist does. The received fd is closed
 * when the request ends, the handle's duplicate when the connection ends or the device fails. The
 * /dev name found through /sys/dev/{block,char}/MAJ:MIN is only used in logs and for the policy
 * hook. Multipath PR OUT (docs in prh-server.c, "Multipath"): REGISTER and REGISTER AND IGNORE
 * EXISTING KEY go to every path; the rest to one path.
 *
 * Deliberate differences from qemu-pr-helper (ref sections 1-2):
 *   - The fd must be a block or char device of a SCSI disk, sg device or dm-multipath map;
 *     anything else gets CHECK CONDITION 05/25/00 LOGICAL UNIT NOT SUPPORTED (the helper sends
 *     SG_IO to whatever it got: ENOTTY, 0B/00/06). Partitions and non-multipath dm devices too.
 *   - libsgpr may send INQUIRY (VPD 0x83) when it opens the device (to name the LUN when udev
 *     has no WWN for it), before the first command of a connection on that device.
 *   - libsgpr retries UNIT ATTENTION (up to 8 times) and BUSY/TASK SET FULL/NOT READY with
 *     back-off; the helper passes them to the guest at once.
 *   - 10 CDB bytes go to the device (0x5E/0x5F are 10-byte CDBs), not the 16 QEMU pads to.
 *   - Every command has a timeout (device_timeout_ms per CDB in libsgpr, request_timeout_ms for
 *     the whole request: then 0B/2E/02 while the abandoned command may still complete).
 *   - Multipath without multipathd/libmpathpersist: per-path REGISTER by libsgpr on the map's
 *     paths, opened by name (so not with CAP_SYS_RAWIO alone; multipathd's reservation_key
 *     is not set), SPEC_I_PT and ALL_TG_PT registrations refused (05/26/00), own-key PREEMPT
 *     re-registers every path. No process-wide exit on a dm ioctl error; no call blocks other
 *     clients.
 *   - CLEANUP (0xFF) is answered GOOD without touching the device, multipath maps included
 *     (the helper clears multipathd's key there); CLEANUP is never offered in the handshake.
 *   - Sense is zeroed unless the status is CHECK CONDITION.
 *   - listen() backlog 16 instead of 1; the socket gets an explicit mode.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sgpr.h"
#include "prh-proto.h"

#define PRH_DEFAULT_MAX_CONNECTIONS 256u
#define PRH_DEFAULT_MAX_PER_UID 128u
#define PRH_DEFAULT_MAX_PER_PID 32u
#define PRH_DEFAULT_MAX_ABANDONED 16u
#define PRH_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000u
#define PRH_DEFAULT_REQUEST_TIMEOUT_MS 25000u
#define PRH_DEFAULT_DEVICE_TIMEOUT_MS 10000u
#define PRH_LISTEN_BACKLOG 16

/* What the policy hook sees about one request (valid during the call only). */
struct prh_request_info {
	const struct prh_request *req; /* CDB, service action, PR OUT parameters */
	/* the decoded basic PR OUT list, or NULL (PR IN, REGISTER AND MOVE, other lengths) */
	const struct sgpr_prout_params *prout;
	dev_t rdev;   /* device number of the received fd */
	bool is_char; /* /dev/sgN rather than a block device */
	/* "/dev/sdc", "/dev/dm-3", "/dev/sg2"; "block 8:32" if no such node is here */
	const char *devnode;
	struct sgpr_dev *dev; /* opened handle: sgpr_dev_lun_id(), paths, PR IN (prh-guard.h) */
	pid_t pid;	      /* the client (SO_PEERCRED) */
	uid_t uid;
	gid_t gid;
};

/* A refusal: the reply status and, for CHECK CONDITION, the fixed-format sense. */
struct prh_verdict {
	uint8_t status; /* preset to CHECK CONDITION */
	uint8_t key, asc,
		ascq;	  /* preset to ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE 05/20/00 */
	char reason[160]; /* logged with the device and the command; preset empty */
	bool gone; /* the hook's own command got no answer: drop the handle, as after a command */
};

/*
 * Policy hook, called on the connection's thread (several connections may call it at once) for
 * every PR IN and PR OUT after the device was opened and before the request's command is sent.
 * It may send PR IN itself on info->dev (the guard of prh-guard.h): it runs under the request's
 * timeout, as the command does. Return 0 to let the command through, or a negative errno to
 * refuse it: the guest gets the verdict's status and sense and the server logs one line with
 * the reason (rate-limited).
 */
typedef int (*prh_policy_fn)(void *userdata, const struct prh_request_info *info,
			     struct prh_verdict *verdict);

/*
 * Test seam: open the client's fd (devnode as in struct prh_request_info) instead of
 * sgpr_dev_open_fd() (which the default NULL means). fd is closed after the call.
 */
typedef int (*prh_open_fn)(void *userdata, int fd, const char *devnode,
			   const struct sgpr_dev_opts *opts, struct sgpr_dev **ret);

struct prh_server_opts {
	unsigned max_connections; /* further connections are closed at once; 0: default */
	unsigned max_per_uid;	  /* the same, per client uid (SO_PEERCRED); 0: default */
	unsigned max_per_pid;	  /* per client pid; 0: default */
	/* threads left on a hung device at once; then requests get BUSY; 0: default */
	unsigned max_abandoned;
	/* for the handshake, the rest of a request begun, and each reply; 0: default */
	unsigned handshake_timeout_ms;
	unsigned request_timeout_ms; /* answer COMMAND TIMEOUT after this; 0: default */
	unsigned device_timeout_ms;  /* per CDB, handed to libsgpr; 0: default */
	prh_policy_fn policy;	     /* NULL: everything allowed */
	void *policy_userdata;
	sgpr_log_fn log_fn; /* syslog priorities; NULL: silent */
	void *log_userdata;
	prh_open_fn open_fn; /* NULL: sgpr_dev_open_fd() */
	void *open_userdata;
};

struct prh_server_stats {
	unsigned long connections; /* accepted */
	unsigned active;	   /* connections open now */
	unsigned long requests;	   /* answered */
	unsigned long violations;  /* connections closed for a protocol violation */
	unsigned long stalled;	   /* closed for a handshake or request not done in time */
	unsigned long rejected;	   /* closed at accept: over a connection limit */
	unsigned long timeouts;	   /* requests answered COMMAND TIMEOUT */
	unsigned long refused;	   /* requests refused by the policy hook */
	unsigned long busy;	   /* requests answered BUSY: max_abandoned reached */
	unsigned abandoned;	   /* threads still in a device call after their timeout */
};

struct prh_server;

/*
 * Create a listening unix stream socket at path with the given mode (0660 is usual), replacing
 * a stale socket left there. A path that exists and is not a socket is not removed (-EEXIST).
 * The mode is set through the process' umask around bind(): call it before other threads start.
 * Returns 0 and the fd (O_CLOEXEC) in *ret_fd, or -errno (-ENAMETOOLONG for a long path).
 */
int prh_listen(const char *path, mode_t mode, int *ret_fd);

/*
 * Serve listen_fd (from prh_listen(), or socket activation), which the server owns from now on
 * (closed by prh_server_stop(), also on failure here). opts may be NULL. Starts the accept
 * thread and returns; on success free with prh_server_free(). -errno on failure.
 */
int prh_server_start(int listen_fd, const struct prh_server_opts *opts, struct prh_server **ret);

/*
 * Stop: close the listening socket, let every request in flight finish (each within its
 * request timeout) and get its reply, close every connection, join the threads. Idempotent.
 * Threads abandoned after a timeout keep running detached and clean up after themselves (the
 * server's memory lives until the last of them ends); they never call back into the caller.
 */
void prh_server_stop(struct prh_server *s);

/* Stops if needed and frees; accepts NULL, returns NULL. */
struct prh_server *prh_server_free(struct prh_server *s);

void prh_server_get_stats(struct prh_server *s, struct prh_server_stats *ret);

/*
 * The reply for a request that did not reach the device or that failed in libsgpr with r, and
 * the status st (NULL: none) of the last attempt: the device's own status and sense when it
 * answered, else the sense qemu-pr-helper derives from the errno (ref 2.2), with
 * -ENOTTY/-ENOTBLK/-ENODEV/-ENOENT/-ENXIO as LOGICAL UNIT NOT SUPPORTED 05/25/00 and
 * -ETIMEDOUT as COMMAND TIMEOUT 0B/2E/02. Exposed for the unit tests.
 */
void prh_reply_from_errno(struct prh_reply *reply, int r, const struct sgpr_status *st);
