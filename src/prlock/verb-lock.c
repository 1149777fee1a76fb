/* SPDX-License-Identifier: GPL-2.0-or-later */
/* register, unregister, acquire, release, check: every change confirmed by PR IN. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "prlock.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

/* Describe who holds res, e.g. "held by host 7 (key 0x...)". */
static const char *holder_words(struct prlock *p, const struct sgpr_reservation *res, char *buf,
				size_t len)
{
	char label[64], key[SGPR_KEY_STRLEN];

	if (!res->held)
		snprintf(buf, len, "not reserved");
	else if (sgpr_key_is_parking(res->key, p->ns))
		snprintf(buf, len,
			 "parked by a release: no holder, unregistered hosts stay fenced");
	else if (sgpr_type_is_all_registrants(res->type))
		snprintf(buf, len, "reserved %s by all registrants", sgpr_type_to_name(res->type));
	else if (sgpr_key_in_ns(res->key, p->ns))
		snprintf(buf, len, "held by %s (key %s, %s)",
			 owner_label(p, res->key, label, sizeof(label)),
			 sgpr_key_format(res->key, key), sgpr_type_to_name(res->type) ?: "?");
	else
		snprintf(buf, len, "held by foreign key %s (%s)", sgpr_key_format(res->key, key),
			 sgpr_type_to_name(res->type) ?: "?");
	return buf;
}

static int read_keys_res(struct sgpr_dev *d, struct sgpr_keys **keys, struct sgpr_reservation *res)
{
	const char *dev = sgpr_dev_target(d);
	struct sgpr_status st;
	int r;

	r = sgpr_read_keys(d, keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	r = sgpr_read_reservation(d, res, &st);
	if (r < 0)
		return fail(r, dev, "READ RESERVATION", &st);
	return 0;
}

static int conflict(const char *dev, const char *words)
{
	fprintf(stderr, "prlock: %s: %s\n", dev, words);
	return EXIT_CONFLICT;
}

static int verify_failed(const char *dev, const char *what)
{
	fprintf(stderr, "prlock: %s: %s not confirmed by PR IN read-back\n", dev, what);
	return EXIT_RUNTIME;
}

/* Unregister key from this nexus and confirm it is gone. */
static int unregister_key(struct sgpr_dev *d, uint64_t key)
{
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	const char *dev = sgpr_dev_target(d);
	struct sgpr_status st;
	int r;

	r = sgpr_register(d, key, 0, false, &st);
	if (r < 0)
		return fail(r, dev, "unregistering", &st);
	r = sgpr_read_keys(d, &keys, &st);
	if (r < 0)
		return fail(r, dev, "READ KEYS", &st);
	if (count_key(keys, key))
		return verify_failed(dev, "unregistration");
	return 0;
}

static int do_register(struct prlock *p, const char *target)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	char msg[128], k[SGPR_KEY_STRLEN];
	uint64_t key;
	int r;

	r = open_dev(p, target, &d);
	if (!r)
		r = ensure_registered(p, d, &key);
	if (!r)
		r = read_keys_res(d, &keys, &res);
	if (!r && !count_key(keys, key))
		r = verify_failed(target, "registration");
	if (r) {
		result_device(p, target, r, NULL);
		return r;
	}
	snprintf(msg, sizeof(msg), "registered key %s (host %u)", sgpr_key_format(key, k),
		 p->cfg.host_id);
	result_device(p, target, 0,
		      &(struct result){.action = "registered", .message = msg, .key = key});
	return 0;
}

int verb_register(struct prlock *p, int ndev, char **devs)
{
	int ret = 0;

	results_begin(p);
	for (int i = 0; i < ndev; i++) {
		int r = do_register(p, devs[i]);

		ret = ret ?: r;
	}
	return results_end(p, ret);
}

/*
 * Release what this host holds on one device and, unless keep, unregister.
 * Returns 0, or an exit code after printing.
 */
enum release_outcome {
	RELEASE_NOT_REGISTERED,
	RELEASE_UNREGISTERED, /* or, with keep, left registered: it held nothing */
	RELEASE_RELEASED,
};

static const char *const release_actions[] = {"not-registered", "unregistered", "released"};

static int release_one(struct prlock *p, struct sgpr_dev *d, bool keep, enum release_outcome *ret)
{
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	const char *dev = sgpr_dev_target(d);
	struct sgpr_reservation res;
	struct sgpr_status st;
	char words[160];
	uint64_t key;
	int r;

	r = read_keys_res(d, &keys, &res);
	if (r)
		return r;
	key = find_own_key(p, keys);
	if (res.held && !sgpr_type_is_all_registrants(res.type) && !key_is_ours(p, res.key) && keep)
		return conflict(dev, holder_words(p, &res, words, sizeof(words)));
	if (!key) {
		*ret = RELEASE_NOT_REGISTERED;
		return 0;
	}
	if (sgpr_key_split(key).epoch && !p->force) {
		/* a lease key no prlockd here holds: a dead holder of this host, or a host-id clash
		 */
		char k[SGPR_KEY_STRLEN];

		fprintf(stderr,
			"prlock: %s: key %s of host id %u is a lease that no prlockd of this host "
			"holds (an earlier holder here that died, or another host with the same "
			"host "
			"id); pass --force to release it\n",
			dev, sgpr_key_format(key, k), p->cfg.host_id);
		return EXIT_CONFLICT;
	}
	/* Make the key this nexus' own: tgt leaves it with the session that registered it. */
	r = sgpr_adopt_key(d, key, &st);
	if (r < 0)
		return fail(r, dev, "re-registering this host's key", &st);
	*ret = RELEASE_UNREGISTERED;
	if (res.held && res.key == key && !keep) {
		/* the fence stays: our key becomes the parking key (sgpr_park, DESIGN.md) */
		r = sgpr_park(d, p->ns, key);
		if (r == -EPROTO)
			return verify_failed(dev, "release (parking)");
		if (r < 0)
			return fail(r, dev, "release (REGISTER to the parking key)", NULL);
		*ret = RELEASE_RELEASED;
		return 0;
	}
	if (res.held && (res.key == key || (sgpr_type_is_all_registrants(res.type) && keep))) {
		/* --keep-registration: a plain RELEASE, the LUN is left unreserved */
		r = sgpr_release(d, key, res.type, &st);
		if (r < 0)
			return fail(r, dev, "RELEASE", &st);
		r = sgpr_read_reservation(d, &res, &st);
		if (r < 0)
			return fail(r, dev, "READ RESERVATION", &st);
		if (res.held && res.key == key)
			return verify_failed(dev, "release");
		*ret = RELEASE_RELEASED;
	}
	if (!keep)
		return unregister_key(d, key);
	return 0;
}

/* Shared by unregister and release: words[] gives the human line per outcome of release_one(). */
static int release_devices(struct prlock *p, int ndev, char **devs, bool keep,
			   const char *const words[3], bool daemon_first)
{
	int ret = 0;

	results_begin(p);
	for (int i = 0; i < ndev; i++) {
		_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
		enum release_outcome o = RELEASE_NOT_REGISTERED;
		int r;

		/* a lease prlockd holds goes back through prlockd, which else would renew it */
		r = daemon_first ? release_via_daemon(p, devs[i]) : -1;
		if (r != -1) {
			result_device(p, devs[i], r,
				      r ? NULL
					: &(struct result){.action = "released",
							   .message = "released by prlockd"});
			ret = ret ?: r;
			continue;
		}
		r = open_dev(p, devs[i], &d);
		if (!r)
			r = release_one(p, d, keep, &o);
		result_device(
			p, devs[i], r,
			r ? NULL
			  : &(struct result){.action = release_actions[o], .message = words[o]});
		ret = ret ?: r;
	}
	return results_end(p, ret);
}

int verb_unregister(struct prlock *p, int ndev, char **devs)
{
	static const char *const words[] = {"not registered, nothing to do", "unregistered",
					    "released and unregistered"};

	return release_devices(p, ndev, devs, false, words, false);
}

int verb_release(struct prlock *p, int ndev, char **devs)
{
	static const char parked[] = "released; parked (no holder, unregistered hosts stay "
				     "fenced until the next acquire or clear --force)";
	static const char *const words[] = {"not registered, nothing to release",
					    "not reserved by this host; unregistered", parked};
	static const char *const words_keep[] = {"not registered, nothing to release",
						 "not reserved by this host; still registered",
						 "released (still registered)"};

	return release_devices(p, ndev, devs, p->keep_registration,
			       p->keep_registration ? words_keep : words, !p->keep_registration);
}

/*
 * Register and reserve one device. On success the handle stays open in *ret_dev
 * so that a later failure on another device can roll this one back.
 */
static int acquire_one(struct prlock *p, const char *target, int type, struct sgpr_dev **ret_dev,
		       struct result *ret, char *msg, size_t msglen)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	struct sgpr_lease_opts o = lease_opts(p, true);
	struct sgpr_reservation res;
	enum sgpr_lease_event ev;
	struct sgpr_lease *l = NULL;
	char words[160], k[SGPR_KEY_STRLEN];
	uint64_t key;
	int r;

	r = open_dev(p, target, &d);
	if (r)
		return r;
	o.type = type;
	r = sgpr_lease_new(d, &o, &l);
	if (r < 0)
		return fail(r, target, "lease options", NULL);
	/* the lease engine: free or parked LUNs only, confirmed by READ RESERVATION */
	r = sgpr_lease_acquire(l, &ev);
	key = sgpr_lease_key(l);
	sgpr_lease_free(l);
	if (r == -EBADE) {
		if (sgpr_read_reservation(d, &res, NULL) < 0)
			return conflict(target, "reservation conflict");
		if (res.held && res.key == own_static_key(p))
			return conflict(
				target,
				"already held by this host id's static reservation; release "
				"it first (or another host uses the same host id)");
		holder_words(p, &res, words, sizeof(words));
		if (res.held && !sgpr_type_is_all_registrants(res.type)) {
			char clash[400], all[600];

			snprintf(all, sizeof(all), "%s%s", words,
				 own_id_holder_words(p, d, res.key, clash, sizeof(clash)));
			return conflict(target, all);
		}
		return conflict(target, words);
	}
	if (r < 0)
		return fail(r, target, "acquiring", NULL);
	snprintf(msg, msglen, "acquired %s with key %s (host %u%s)", sgpr_type_to_name(type),
		 sgpr_key_format(key, k), p->cfg.host_id, p->static_lease ? ", static" : "");
	*ret = (struct result){.action = "acquired", .message = msg, .key = key, .type = type};
	*ret_dev = TAKE_PTR(d);
	return 0;
}

int verb_acquire(struct prlock *p, int ndev, char **devs)
{
	struct sgpr_dev **held;
	int type = effective_type(p), ret = 0, i;

	if (!p->static_lease)
		return acquire_via_daemon(p, ndev, devs);
	held = calloc((size_t)ndev, sizeof(*held));
	if (!held)
		return fail(-ENOMEM, devs[0], "acquire", NULL);
	results_begin(p);
	for (i = 0; i < ndev; i++) {
		struct result res = {};
		char msg[192];
		int r = acquire_one(p, devs[i], type, &held[i], &res, msg, sizeof(msg));

		result_device(p, devs[i], r, r ? NULL : &res);
		if (r) {
			ret = r;
			break;
		}
	}
	/* All or nothing: give back what this call took when one device failed. */
	for (int k = 0; k < ndev; k++) {
		enum release_outcome o;

		if (ret && k < i && held[k]) {
			if (release_one(p, held[k], false, &o) == 0)
				fprintf(stderr, "prlock: %s: released again, since %s failed\n",
					devs[k], devs[i]);
		}
		sgpr_dev_free(held[k]);
	}
	free(held);
	return results_end(p, ret);
}

int verb_check(struct prlock *p, int ndev, char **devs)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	char words[160];
	const char *state;
	int r, code;

	r = open_dev(p, devs[0], &d);
	if (!r)
		r = read_keys_res(d, &keys, &res);
	if (r)
		return r;
	if (!res.held) {
		code = EXIT_NO_RESERVATION;
		state = "none";
	} else if (sgpr_key_is_parking(res.key, p->ns)) {
		code = EXIT_NO_RESERVATION;
		state = "parked";
	} else if (sgpr_type_is_all_registrants(res.type)) {
		code = find_own_key(p, keys) ? EXIT_OK : EXIT_CONFLICT;
		state = code ? "other" : "this-host";
	} else {
		code = key_is_ours(p, res.key) ? EXIT_OK : EXIT_CONFLICT;
		state = code ? "other" : "this-host";
	}
	holder_words(p, &res, words, sizeof(words));
	if (p->json) {
		json_object_begin(&p->j);
		json_key(&p->j, "version");
		json_uint(&p->j, 1);
		json_key(&p->j, "device");
		json_string(&p->j, devs[0]);
		json_key(&p->j, "held_by");
		json_string(&p->j, state);
		json_key(&p->j, "exit_code");
		json_uint(&p->j, (unsigned)code);
		json_key(&p->j, "reservation");
		if (res.held) {
			json_object_begin(&p->j);
			json_key(&p->j, "type");
			json_string(&p->j, sgpr_type_to_name(res.type));
			json_owner(p, res.key);
			json_object_end(&p->j);
		} else {
			json_null(&p->j);
		}
		json_object_end(&p->j);
		json_finish(&p->j);
	} else {
		printf("%s: %s\n", devs[0], words);
	}
	return code;
}
