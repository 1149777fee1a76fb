/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest PR OUT guard (prh-guard.h). The rules, in order; the first that matches refuses:
 *
 *   short-list         a parameter list under 24 bytes (SPC-4 6.16.3): 05/1A/00, as a device
 *   clear              CLEAR: it removes every registration of the LU, sgpr's included
 *                      (SPC-4 6.16.2); refused whatever the keys read, so no race with a host
 *                      that registers between our READ KEYS and the guest's CLEAR
 *   sgpr-key           RESERVATION KEY or SERVICE ACTION RESERVATION KEY is an sgpr key: a
 *                      PREEMPT of it removes a host's lease (SPC-4 5.12.11.4.3), a REGISTER
 *                      with it replaces or forges one
 *   sgpr-holder        an sgpr key holds the reservation (its holder, or a registrant of an
 *                      all-registrants type): every PR OUT is refused. A REGISTER would make the
 *                      guest's nexus, maybe that of a host preempted earlier, a registrant that
 *                      writes under the Registrants Only types (SPC-4 5.12.9 table 60)
 *   register-and-move  with sgpr keys registered: the target nexus and key are not ours to
 *                      check (SPC-4 5.12.8)
 *   spec-i-pt          with sgpr keys registered: a REGISTER with SPEC_I_PT or ALL_TG_PT
 *                      registers nexuses other than the guest's (SPC-4 5.12.7)
 *   own-registration   with a key of this host registered (or this host's id unknown): a
 *                      REGISTER AND IGNORE EXISTING KEY would replace it on the nexus it shares
 *                      with the guest (SPC-4 5.12.7)
 *   preempt-zero       with sgpr keys registered: PREEMPT of key 0 (SPC-4 5.12.11.4.4)
 *
 * Everything else passes: the guest's own REGISTER (non-sgpr key), RESERVE and RELEASE of its
 * key, and PREEMPT of a non-sgpr key, among them QEMU's live migration (migrate-pr=on), whose
 * destination registers the guest's key and PREEMPTs it by itself to move the reservation.
 * sgpr keys are recognised as libsgpr does (sgpr_key_in_ns(), the parking key).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prh-guard.h"

#define PROUT_PARAM_SA_KEY 8
#define PROUT_PARAM_FLAGS 20

bool prh_guard_is_sgpr_key(uint64_t key, uint16_t ns)
{
	return sgpr_key_in_ns(key, ns) || sgpr_key_is_parking(key, ns);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int refuse(struct prh_verdict *v, uint8_t asc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct prh_verdict *v, uint8_t asc, const char *fmt, ...)
{
	va_list ap;

	v->status = SGPR_STATUS_CHECK_CONDITION;
	v->key = 0x05; /* ILLEGAL REQUEST */
	v->asc = asc;
	v->ascq = 0x00;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	return -EPERM;
}

/* The key of this LU's reservation that is sgpr's, or 0. */
static uint64_t sgpr_holder(const struct prh_guard_lun *lun, uint16_t ns)
{
	if (!lun->resv.held)
		return 0;
	if (!sgpr_type_is_all_registrants(lun->resv.type))
		return prh_guard_is_sgpr_key(lun->resv.key, ns) ? lun->resv.key : 0;
	/* all registrants hold it (SPC-4 5.12.10): any sgpr key registered does */
	for (size_t i = 0; i < lun->n_keys; i++)
		if (prh_guard_is_sgpr_key(lun->keys[i], ns))
			return lun->keys[i];
	return 0;
}

int prh_guard_decide(const struct prh_guard_ctx *ctx, const struct prh_request *req,
		     const struct prh_guard_lun *lun, struct prh_verdict *v)
{
	uint16_t ns = ctx->ns;
	uint64_t key, sa_key, holder;
	bool any_sgpr = false, ours = false;
	char kb[SGPR_KEY_STRLEN];
	uint8_t flags;

	if (req->kind != PRH_REQ_PROUT)
		return 0;
	if (req->params_len < PRH_PROUT_BASIC_LEN)
		return refuse(v, 0x1a, "rule short-list: PR OUT parameter list of %zu bytes",
			      req->params_len);
	if (req->sa == SGPR_PROUT_CLEAR)
		return refuse(v, 0x20,
			      "rule clear: a guest's CLEAR would remove every registration, the "
			      "hosts' sgpr keys included");
	key = be64(req->params);
	sa_key = be64(req->params + PROUT_PARAM_SA_KEY);
	flags = req->params[PROUT_PARAM_FLAGS];
	if (prh_guard_is_sgpr_key(key, ns) || prh_guard_is_sgpr_key(sa_key, ns))
		return refuse(
			v, 0x20, "rule sgpr-key: %s names the sgpr key %s (host %u)",
			sgpr_prout_sa_to_name(req->sa),
			sgpr_key_format(prh_guard_is_sgpr_key(sa_key, ns) ? sa_key : key, kb),
			sgpr_key_split(prh_guard_is_sgpr_key(sa_key, ns) ? sa_key : key).host_id);
	if (!lun)
		return PRH_GUARD_NEED_LUN;

	holder = sgpr_holder(lun, ns);
	if (holder)
		return refuse(v, 0x20,
			      "rule sgpr-holder: the reservation is held by the sgpr key %s (host "
			      "%u); no guest PR OUT while it is",
			      sgpr_key_format(holder, kb), sgpr_key_split(holder).host_id);
	for (size_t i = 0; i < lun->n_keys; i++) {
		if (!prh_guard_is_sgpr_key(lun->keys[i], ns))
			continue;
		any_sgpr = true;
		if (!ctx->host_id || sgpr_key_split(lun->keys[i]).host_id == ctx->host_id)
			ours = true;
	}
	if (!any_sgpr)
		return 0;
	switch (req->sa) {
	case SGPR_PROUT_REGISTER_AND_MOVE:
		return refuse(v, 0x20,
			      "rule register-and-move: sgpr keys are registered on the LUN");
	case SGPR_PROUT_REGISTER:
	case SGPR_PROUT_REGISTER_AND_IGNORE:
		if (flags & (PRH_PROUT_SPEC_I_PT | PRH_PROUT_ALL_TG_PT))
			return refuse(v, 0x20,
				      "rule spec-i-pt: a %s registration would register other "
				      "nexuses of a LUN with sgpr keys",
				      flags & PRH_PROUT_SPEC_I_PT ? "SPEC_I_PT" : "ALL_TG_PT");
		if (req->sa == SGPR_PROUT_REGISTER_AND_IGNORE && ours)
			return refuse(v, 0x20,
				      "rule own-registration: REGISTER AND IGNORE EXISTING KEY "
				      "could replace this host's sgpr key on the nexus it shares "
				      "with the guest");
		return 0;
	case SGPR_PROUT_PREEMPT:
	case SGPR_PROUT_PREEMPT_AND_ABORT:
		if (!sa_key)
			return refuse(v, 0x20,
				      "rule preempt-zero: PREEMPT of key 0 on a LUN with sgpr "
				      "keys");
		return 0;
	default:
		return 0;
	}
}

static bool has_sgpr_key(const struct sgpr_keys *keys, uint16_t ns)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (prh_guard_is_sgpr_key(keys->keys[i], ns))
			return true;
	return false;
}

int prh_guard_check(struct sgpr_dev *d, const struct prh_guard_ctx *ctx,
		    const struct prh_request *req, struct prh_verdict *v)
{
	struct sgpr_status st = {};
	struct sgpr_keys *keys = NULL;
	struct prh_guard_lun lun = {};
	const char *what = NULL;
	char reason[sizeof(v->reason)];
	int r;

	r = prh_guard_decide(ctx, req, NULL, v);
	if (r != PRH_GUARD_NEED_LUN)
		goto out;
	r = sgpr_read_keys(d, &keys, &st);
	if (r < 0)
		what = "READ KEYS";
	/* a holder is a registrant: without an sgpr key registered, none holds (SPC-4 5.12.10) */
	if (r == 0 && has_sgpr_key(keys, ctx->ns)) {
		r = sgpr_read_reservation(d, &lun.resv, &st);
		if (r < 0)
			what = "READ RESERVATION";
	}
	if (r < 0) {
		free(keys);
		v->gone = !st.answered; /* the server drops the handle, as after a command */
		v->status = SGPR_STATUS_CHECK_CONDITION;
		if (st.answered && st.status == SGPR_STATUS_CHECK_CONDITION && st.sense_valid) {
			v->key = st.sense_key;
			v->asc = st.asc;
			v->ascq = st.ascq;
		} else if (st.answered && st.status != SGPR_STATUS_GOOD) {
			v->status = st.status;
		} else {
			v->key = 0x0b; /* I/O PROCESS TERMINATED */
			v->asc = 0x00;
			v->ascq = 0x06;
		}
		snprintf(v->reason, sizeof(v->reason),
			 "rule unreadable: %s before the PR OUT failed (%s)", what, strerror(-r));
		r = -EPERM;
		goto out;
	}
	lun.keys = keys->keys;
	lun.n_keys = keys->count;
	r = prh_guard_decide(ctx, req, &lun, v);
	free(keys);
out:
	if (r < 0 && sgpr_dev_lun_id(d)) {
		/* the LUN first: a cut, if any, falls on the end of the rule's words */
		int n = snprintf(reason, sizeof(reason), "LUN %s: ", sgpr_dev_lun_id(d));

		if (n > 0 && (size_t)n < sizeof(reason))
			memccpy(reason + n, v->reason, '\0', sizeof(reason) - (size_t)n);
		reason[sizeof(reason) - 1] = '\0';
		memcpy(v->reason, reason, sizeof(reason));
	}
	return r;
}
