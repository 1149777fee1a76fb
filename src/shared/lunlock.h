/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One lease holder per host and LUN (DESIGN.md "Keys and leases"): prlockd and `prlock run`
 * take an exclusive flock on a file named after the LUN's identity before they acquire or
 * adopt, and keep it while they hold, wait for or have lost the lease. A second holder on
 * the same host gets -EBUSY instead of adopting the first one's live key.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sgpr.h"

#define SGPR_LOCK_DIR_DEFAULT "/run/sgpr/locks" /* environment SGPR_LOCK_DIR overrides it */

/*
 * Lock the LUN behind d (its VPD 0x83 identity, else the target string) for host_id: the lock
 * is per host id, so test hosts sharing one machine stay apart while two processes of one
 * host (or of one host id: a clash on one machine) exclude each other. Returns the lock
 * fd (>= 0), -EBUSY when another process holds it (*ret_pid: that process, 0 if unknown),
 * or another -errno.
 */
int lun_lock(struct sgpr_dev *d, uint16_t host_id, const char *what, pid_t *ret_pid);
