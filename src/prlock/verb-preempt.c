/* SPDX-License-Identifier: GPL-2.0-or-later */
/* preempt and clear: the verbs that touch other hosts' keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "prlock.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

/* The key preempt aims at: --victim, the key of --host, or the holder. 0 after printing. */
static uint64_t pick_victim(struct prlock *p, const char *dev, const struct sgpr_keys *keys,
			    const struct sgpr_reservation *res, int *ret_code)
{
	char k[SGPR_KEY_STRLEN];

	if (p->victim) {
		if (!count_key(keys, p->victim)) {
			fprintf(stderr, "prlock: %s: key %s is not registered\n", dev,
				sgpr_key_format(p->victim, k));
			*ret_code = EXIT_RUNTIME;
			return 0;
		}
		return p->victim;
	}
	if (p->victim_host) {
		for (uint32_t i = 0; i < keys->count; i++)
			if (sgpr_key_in_ns(keys->keys[i], p->ns) &&
			    sgpr_key_split(keys->keys[i]).host_id == p->victim_host)
				return keys->keys[i];
		fprintf(stderr, "prlock: %s: host %u has no key registered\n", dev, p->victim_host);
		*ret_code = EXIT_RUNTIME;
		return 0;
	}
	if (!res->held || sgpr_type_is_all_registrants(res->type)) {
		fprintf(stderr, "prlock: %s: %s; name the key to preempt with --victim or --host\n",
			dev, res->held ? "reserved by all registrants" : "no reservation");
		*ret_code = res->held ? EXIT_USAGE : EXIT_NO_RESERVATION;
		return 0;
	}
	return res->key;
}

static int preempt_one(struct prlock *p, const char *dev, struct sgpr_dev *d, char *msg,
		       size_t msglen, struct result *ret)
{
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	struct sgpr_status st;
	char label[64], k[SGPR_KEY_STRLEN], v[SGPR_KEY_STRLEN];
	uint64_t victim, key;
	bool was_holder, registered_before, aborted = false;
	int r, code = 0, type;

	r = sgpr_read_keys(d, &keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	r = sgpr_read_reservation(d, &res, &st);
	if (r < 0)
		return fail(r, dev, "READ RESERVATION", &st);
	victim = pick_victim(p, dev, keys, &res, &code);
	if (!victim)
		return code;
	if (sgpr_key_is_parking(victim, p->ns)) {
		fprintf(stderr,
			"prlock: %s: parked by a release (no holder); acquire it instead of "
			"preempting\n",
			dev);
		return EXIT_NO_RESERVATION;
	}
	if (key_is_ours(p, victim)) {
		fprintf(stderr, "prlock: %s: key %s belongs to this host; nothing to preempt\n",
			dev, sgpr_key_format(victim, k));
		return EXIT_RUNTIME;
	}
	/* Safety: a key outside our namespace belongs to another tool or install. */
	if (!sgpr_key_in_ns(victim, p->ns) && !p->force) {
		fprintf(stderr,
			"prlock: %s: key %s is foreign (not of cluster '%s'); pass --force "
			"to preempt it\n",
			dev, sgpr_key_format(victim, k), p->cfg.cluster);
		return EXIT_CONFLICT;
	}
	was_holder = res.held && res.key == victim;
	type = p->type_set ? p->cfg.type : res.held ? res.type : effective_type(p);

	registered_before = find_own_key(p, keys) != 0;
	r = ensure_registered(p, d, &key);
	if (r)
		return r;
	r = sgpr_preempt(d, key, victim, type, !p->no_abort, &aborted, &st);
	if (r < 0 && !registered_before)
		(void)sgpr_register(d, key, 0, false, NULL); /* a loser never lingers (RO types) */
	if (r == -EBADE) {
		fprintf(stderr,
			"prlock: %s: key %s is no longer registered (its owner changed it) "
			"or this host was preempted; nothing taken\n",
			dev, sgpr_key_format(victim, k));
		return EXIT_CONFLICT;
	}
	if (r < 0)
		return fail(r, dev, "PREEMPT", &st);

	/* Confirm: the victim is gone, and the reservation is ours if it was the victim's. */
	free(keys);
	keys = NULL;
	r = sgpr_read_keys(d, &keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	r = sgpr_read_reservation(d, &res, &st);
	if (r < 0)
		return fail(r, dev, "READ RESERVATION", &st);
	if (count_key(keys, victim) || !count_key(keys, key) ||
	    (was_holder && (!res.held || res.key != key || res.type != type))) {
		fprintf(stderr, "prlock: %s: preempt not confirmed by PR IN read-back\n", dev);
		return EXIT_RUNTIME;
	}
	snprintf(msg, msglen, "preempted %s (key %s)%s%s",
		 owner_label(p, victim, label, sizeof(label)), sgpr_key_format(victim, v),
		 was_holder ? ", now held by this host, " : "",
		 was_holder ? sgpr_type_to_name(type) : "");
	if (!aborted && !p->no_abort) {
		size_t n = strlen(msg);

		snprintf(msg + n, msglen - n,
			 "; target lacks PREEMPT AND ABORT, used PREEMPT "
			 "(victim's queued commands not aborted)");
	}
	*ret = (struct result){.action = "preempted",
			       .message = msg,
			       .key = key,
			       .type = was_holder ? type : 0,
			       .victim = victim,
			       .has_aborted = true,
			       .aborted = aborted};
	return 0;
}

int verb_preempt(struct prlock *p, int ndev, char **devs)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	struct result res = {};
	char msg[320];
	int r;

	if (p->if_dead)
		return preempt_if_dead(p, devs[0]);
	results_begin(p);
	r = open_dev(p, devs[0], &d);
	if (!r)
		r = preempt_one(p, devs[0], d, msg, sizeof(msg), &res);
	result_device(p, devs[0], r, r ? NULL : &res);
	return results_end(p, r);
}

int verb_clear(struct prlock *p, int ndev, char **devs)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	struct sgpr_status st;
	uint64_t key;
	int r;

	if (!p->force)
		return usage_error("clear removes every registration and the reservation, other "
				   "hosts' included; pass --force");
	results_begin(p);
	r = open_dev(p, devs[0], &d);
	if (!r) {
		/* IGNORE EXISTING KEY: this nexus may be the parker of a released LUN
		 * (SPC-4 5.12.7) */
		key = own_static_key(p);
		r = sgpr_register(d, 0, key, true, &st);
		r = r < 0 ? fail(r, devs[0], "REGISTER AND IGNORE EXISTING KEY", &st) : 0;
	}
	if (!r) {
		r = sgpr_clear(d, key, &st);
		r = r < 0 ? fail(r, devs[0], "CLEAR", &st) : 0;
	}
	if (!r) {
		r = sgpr_read_keys(d, &keys, &st);
		if (r == 0)
			r = sgpr_read_reservation(d, &res, &st);
		if (r < 0)
			r = fail(r, devs[0], "PR IN read-back", &st);
		else if (keys->count || res.held) {
			fprintf(stderr, "prlock: %s: clear not confirmed by PR IN read-back\n",
				devs[0]);
			r = EXIT_RUNTIME;
		}
	}
	result_device(p, devs[0], r,
		      r ? NULL
			: &(struct result){.action = "cleared",
					   .message = "cleared: no registrations, no reservation"});
	return results_end(p, r);
}
