/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest PR OUT guard of the pr-helper (docs/prlockd.md, "Policy: guest PR OUT vs other
 * hosts' sgpr leases"): which PR OUT a guest may send on a LUN that carries sgpr keys. The guest
 * shares its host's I_T nexus, and the target sees its commands as the host's: without the guard
 * a guest on a host that does not hold the LUN could PREEMPT or CLEAR the lease of the host that
 * does.
 *
 * prh_guard_decide() is the pure decision on the request and the LUN's keys and reservation;
 * prh_guard_check() reads them (PR IN READ KEYS, and READ RESERVATION when an sgpr key is
 * registered; only for PR OUT) and decides. Both the pr-helper of prlockd (prh.c) and a stand-alone
 * pr-helper call the latter.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgpr.h"
#include "prh-proto.h"
#include "prh-server.h"

/* Who we are: the namespace sgpr keys are recognised in, and this host's id (0: unknown). */
struct prh_guard_ctx {
	uint16_t ns;
	uint16_t host_id;
};

/* What PR IN read of the LUN just before the PR OUT. */
struct prh_guard_lun {
	const uint64_t *keys; /* READ KEYS */
	size_t n_keys;
	struct sgpr_reservation resv; /* READ RESERVATION */
};

/* prh_guard_decide(): the LUN's keys are needed to decide (read them, ask again) */
#define PRH_GUARD_NEED_LUN 1

/*
 * The verdict on req (PR IN always passes). lun NULL: decide what can be decided from the
 * request alone, PRH_GUARD_NEED_LUN for the rest. Returns 0 (pass) or -EPERM with v->reason
 * naming the rule and v's sense set (05/20/00, or 05/1A/00 for a short parameter list).
 */
int prh_guard_decide(const struct prh_guard_ctx *ctx, const struct prh_request *req,
		     const struct prh_guard_lun *lun, struct prh_verdict *v);

/*
 * prh_guard_decide() with the LUN's keys read on d when needed. A LUN that cannot be read is
 * refused with the device's sense (or 0B/00/06): no PR OUT is sent blind. 0 or -EPERM.
 */
int prh_guard_check(struct sgpr_dev *d, const struct prh_guard_ctx *ctx,
		    const struct prh_request *req, struct prh_verdict *v);

/* true if key is one sgpr would recognise in ns: a lease or static key, or the parking key */
bool prh_guard_is_sgpr_key(uint64_t key, uint16_t ns);
