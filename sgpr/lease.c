/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leases on top of persistent reservations (DESIGN.md "Keys and leases"):
 * storage-only liveness, no cluster.
 *
 * The owner holds the reservation and, every lease period L, renews by
 * REGISTER(old key -> epoch + 1): the reservation stays with the registrant
 * whose key changed (SPC-4 5.12.7). An observer remembers when the holder's
 * key last changed; a key unchanged for dead_after belongs to a dead or hung
 * owner, and the observer takes over with PREEMPT (AND ABORT) naming that
 * exact key. If the owner renewed in between, that key no longer exists and
 * the target answers RESERVATION CONFLICT: the storage is the arbiter.
 *
 * Every step runs on the device's clock (struct sgpr_dev_opts.clock), so the
 * whole protocol is testable on the sim transport with a fake clock.
 */
#include "sgpr-private.h"

struct sgpr_lease {
	struct sgpr_dev *d; /* borrowed */
	struct sgpr_lease_opts o;
	enum sgpr_lease_state state;
	uint64_t key;	     /* our key while registered, else 0 */
	uint64_t last_ok_ms; /* last renewal (or acquisition) confirmed by the target */
	uint32_t last_gen;   /* PRgeneration of the last READ KEYS */
	bool have_gen;

	/* observer: the holder's key and since when it has not changed */
	uint64_t seen_holder;
	uint64_t seen_since_ms;

	/* owner: registrations of other hosts of our namespace, and since when */
	struct lingering {
		uint64_t key;
		uint64_t since_ms;
	} * lingering;
	size_t n_lingering;
};

#define DEFAULT_PERIOD_MS SGPR_LEASE_PERIOD_MS_DEFAULT

static uint64_t now_ms(const struct sgpr_lease *l)
{
	return l->d->opts.clock->now_ms(l->d->opts.clock->userdata);
}

static uint64_t make_key(const struct sgpr_lease *l, uint32_t epoch)
{
	return sgpr_key_make(l->o.ns, l->o.host_id, epoch);
}

static bool key_is_ours(const struct sgpr_lease *l, uint64_t key)
{
	return sgpr_key_in_ns(key, l->o.ns) && sgpr_key_split(key).host_id == l->o.host_id;
}

/* The next epoch after key's; never 0, which marks a static reservation. */
static uint64_t next_key(const struct sgpr_lease *l, uint64_t key)
{
	uint32_t epoch = sgpr_key_split(key).epoch + 1;

	return make_key(l, epoch ? epoch : 1);
}

const char *sgpr_lease_event_name(enum sgpr_lease_event ev)
{
	static const char *const names[] = {
		[SGPR_LEASE_NONE] = "none",
		[SGPR_LEASE_ACQUIRED] = "acquired",
		[SGPR_LEASE_ADOPTED] = "adopted",
		[SGPR_LEASE_RENEWED] = "renewed",
		[SGPR_LEASE_RECOVERED] = "recovered",
		[SGPR_LEASE_UNREACHABLE] = "unreachable",
		[SGPR_LEASE_TAKEN_OVER] = "taken-over",
		[SGPR_LEASE_HOLDER_ALIVE] = "holder-alive",
		[SGPR_LEASE_PEER_REMOVED] = "peer-removed",
		[SGPR_LEASE_LOST_PREEMPTED] = "lost-preempted",
		[SGPR_LEASE_LOST_CLEARED] = "lost-cleared",
		[SGPR_LEASE_LOST_TARGET] = "lost-target-reset",
		[SGPR_LEASE_LOST_SELF_FENCED] = "lost-self-fenced",
	};

	if ((unsigned)ev >= sizeof(names) / sizeof(names[0]) || !names[ev])
		return NULL;
	return names[ev];
}

int sgpr_lease_new(struct sgpr_dev *d, const struct sgpr_lease_opts *opts, struct sgpr_lease **ret)
{
	struct sgpr_lease *l;

	if (!d || !opts || !ret || !opts->host_id || !opts->ns)
		return -EINVAL;
	if (opts->type && !sgpr_type_to_name(opts->type))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->o = *opts;
	if (!l->o.type)
		l->o.type = SGPR_TYPE_WERO;
	if (!l->o.period_ms)
		l->o.period_ms = DEFAULT_PERIOD_MS;
	if (!l->o.dead_after_ms)
		l->o.dead_after_ms = 3 * l->o.period_ms + l->o.period_ms / 2;
	if (l->o.dead_after_ms <= l->o.period_ms) {
		free(l);
		return -EINVAL; /* a live owner would look dead between two renewals */
	}
	l->state = SGPR_LEASE_IDLE;
	*ret = l;
	return 0;
}

struct sgpr_lease *sgpr_lease_free(struct sgpr_lease *l)
{
	if (l) {
		free(l->lingering);
		free(l);
	}
	return NULL;
}

enum sgpr_lease_state sgpr_lease_get_state(const struct sgpr_lease *l)
{
	return l ? l->state : SGPR_LEASE_IDLE;
}

uint64_t sgpr_lease_key(const struct sgpr_lease *l)
{
	return l ? l->key : 0;
}

uint64_t sgpr_lease_last_holder(const struct sgpr_lease *l)
{
	return l ? l->seen_holder : 0;
}

uint64_t sgpr_lease_last_renewal_ms(const struct sgpr_lease *l)
{
	return l ? l->last_ok_ms : 0;
}

/* READ KEYS + READ RESERVATION; remembers the generation. */
static int read_state(struct sgpr_lease *l, struct sgpr_keys **keys, struct sgpr_reservation *res)
{
	int r = sgpr_read_keys(l->d, keys, NULL);

	if (r < 0)
		return r;
	r = sgpr_read_reservation(l->d, res, NULL);
	if (r < 0) {
		free(*keys);
		*keys = NULL;
		return r;
	}
	return 0;
}

static uint64_t find_own(const struct sgpr_lease *l, const struct sgpr_keys *keys)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (key_is_ours(l, keys->keys[i]))
			return keys->keys[i];
	return 0;
}

/* Before acquiring or taking over: the reservation, and a registration of ours if any. */
static int look(struct sgpr_lease *l, struct sgpr_reservation *res, uint64_t *ret_own)
{
	struct sgpr_keys *keys = NULL;
	int r = read_state(l, &keys, res);

	if (r < 0)
		return r;
	l->last_gen = res->generation;
	l->have_gen = true;
	*ret_own = find_own(l, keys);
	free(keys);
	return 0;
}

static bool listed(const struct sgpr_keys *keys, uint64_t key)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (keys->keys[i] == key)
			return true;
	return false;
}

/* The target answered, but not with a reservation state we can act on. */
static bool unreachable(int r)
{
	return sgpr_err_kind(r) == SGPR_ERR_UNREACHABLE;
}

static void held_now(struct sgpr_lease *l, uint64_t key)
{
	l->key = key;
	l->state = SGPR_LEASE_HELD;
	l->last_ok_ms = now_ms(l);
	l->seen_holder = key;
	l->n_lingering = 0;
}

/*
 * Register key on this device (every path) and reserve; confirm by READ
 * RESERVATION. On a conflict the registration is withdrawn again, so a
 * loser never lingers as a registrant (registrants may write under the
 * registrants-only types).
 */
static int register_and_reserve(struct sgpr_lease *l, uint64_t old, uint64_t key)
{
	struct sgpr_reservation res;
	int r;

	r = old == key ? 0 : sgpr_register(l->d, old, key, false, NULL);
	if (r < 0)
		return r;
	r = sgpr_reserve(l->d, key, l->o.type, NULL);
	if (r == 0)
		r = sgpr_read_reservation(l->d, &res, NULL);
	if (r == 0 && !(res.held && res.key == key && res.type == l->o.type))
		r = -EBADE;
	if (r < 0) {
		(void)sgpr_register(l->d, key, 0, false, NULL);
		return r;
	}
	return 0;
}

int sgpr_lease_acquire(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	uint64_t own, key;
	int r;

	if (!l || !ret_event)
		return -EINVAL;
	*ret_event = SGPR_LEASE_NONE;
	if (l->state == SGPR_LEASE_HELD)
		return 0;
	r = look(l, &res, &own);
	if (r < 0)
		return r;

	if (res.held && !sgpr_type_is_all_registrants(res.type)) {
		if (l->seen_holder != res.key) {
			/* a holder seen for the first time starts its dead_after clock now */
			l->seen_holder = res.key;
			l->seen_since_ms = now_ms(l);
		}
		if (!key_is_ours(l, res.key))
			return -EBADE; /* held by another key: sgpr_lease_observe() takes over the
					  dead */
		if (res.type != l->o.type)
			return -EBADE;
		/*
		 * Our own key holds it: an earlier process of this host (daemon
		 * restart) or an earlier session (tgt). Keep it, epoch and all.
		 */
		r = sgpr_adopt_key(l->d, res.key, NULL);
		if (r < 0)
			return r;
		held_now(l, res.key);
		*ret_event = SGPR_LEASE_ADOPTED;
		return 0;
	}
	if (res.held)
		return -EBADE; /* an all-registrants reservation is shared, never a lease */

	key = l->o.static_lease ? make_key(l, 0) : own ? next_key(l, own) : make_key(l, 1);
	if (own) {
		/* a registration of ours left by an earlier session: make it this nexus' */
		r = sgpr_adopt_key(l->d, own, NULL);
		if (r < 0)
			return r;
	}
	r = register_and_reserve(l, own, key);
	if (r < 0)
		return r;
	held_now(l, key);
	*ret_event = SGPR_LEASE_ACQUIRED;
	return 0;
}

/* Remove registrations of other hosts of our namespace that linger past dead_after. */
static int remove_lingering(struct sgpr_lease *l, const struct sgpr_keys *keys, bool *ret_removed)
{
	uint64_t now = now_ms(l);
	struct lingering *next;
	size_t n = 0;

	next = calloc(keys->count ? keys->count : 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (uint32_t i = 0; i < keys->count; i++) {
		uint64_t k = keys->keys[i], since = now;

		if (k == l->key || key_is_ours(l, k) || !sgpr_key_in_ns(k, l->o.ns))
			continue; /* our own paths, and foreign keys: never touched */
		if (sgpr_key_split(k).epoch == 0)
			continue; /* a static registration is meant to stay */
		for (size_t j = 0; j < l->n_lingering; j++)
			if (l->lingering[j].key == k)
				since = l->lingering[j].since_ms;
		if (now - since >= l->o.dead_after_ms) {
			/* SPC-4 5.12.11.4.3: preempting a non-holder only removes its registration
			 */
			if (sgpr_preempt(l->d, l->key, k, l->o.type, false, NULL, NULL) == 0) {
				*ret_removed = true;
				continue;
			}
		}
		next[n].key = k;
		next[n].since_ms = since;
		n++;
	}
	free(l->lingering);
	l->lingering = next;
	l->n_lingering = n;
	return 0;
}

/* The key stays readable (sgpr_lease_key) for the report of what was lost. */
static int lose(struct sgpr_lease *l, enum sgpr_lease_event ev, enum sgpr_lease_event *ret_event)
{
	l->state = SGPR_LEASE_LOST;
	*ret_event = ev;
	return 0;
}

/*
 * The renewal failed with RESERVATION CONFLICT: our registration on this
 * nexus is gone. Find out why from READ KEYS / READ RESERVATION.
 */
static int classify_conflict(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	struct sgpr_keys *keys = NULL;
	bool ours_listed, others, reset;
	uint64_t own;
	int r;

	r = read_state(l, &keys, &res);
	if (r < 0)
		return r;
	ours_listed = listed(keys, l->key);
	own = find_own(l, keys);
	if (!ours_listed && own) {
		/*
		 * A key of this host with another epoch: a renewal whose answer
		 * was lost (timed out) that the target carried out afterwards.
		 * It is ours; continue from it.
		 */
		l->key = own;
		ours_listed = true;
	}
	others = keys->count > (ours_listed ? 1u : 0u);
	/* A generation that went backwards means the target lost its state (restart, no APTPL). */
	reset = l->have_gen && res.generation < l->last_gen;
	l->last_gen = res.generation;
	free(keys);

	if (ours_listed) {
		/*
		 * Our key is there but not on this nexus (a re-login on tgt), or
		 * under a late renewal's epoch: take it back.
		 */
		r = sgpr_adopt_key(l->d, l->key, NULL);
		if (r < 0)
			return r;
		*ret_event = SGPR_LEASE_RECOVERED;
		return 1;
	}
	if (res.held) {
		l->seen_holder = res.key;
		return lose(l, reset ? SGPR_LEASE_LOST_TARGET : SGPR_LEASE_LOST_PREEMPTED,
			    ret_event);
	}
	if (reset || (!others && res.generation == 0)) {
		/* State lost and nobody holds it: re-establish with a fresh key. */
		uint64_t key = next_key(l, l->key);

		r = register_and_reserve(l, 0, key);
		if (r == -EBADE)
			return lose(l, SGPR_LEASE_LOST_TARGET, ret_event);
		if (r < 0)
			return r;
		held_now(l, key);
		*ret_event = SGPR_LEASE_RECOVERED;
		return 0;
	}
	return lose(l, SGPR_LEASE_LOST_CLEARED, ret_event);
}

int sgpr_lease_renew(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	struct sgpr_keys *keys = NULL;
	bool removed = false;
	uint64_t key;
	int r;

	if (!l || !ret_event)
		return -EINVAL;
	*ret_event = SGPR_LEASE_NONE;
	if (l->state != SGPR_LEASE_HELD)
		return -ENOLCK;

	for (int pass = 0; pass < 2; pass++) {
		key = l->o.static_lease ? l->key : next_key(l, l->key);
		r = key == l->key ? 0 : sgpr_register(l->d, l->key, key, false, NULL);
		if (r != -EBADE)
			break;
		/* 1: our key recovered (orphan, or a late renewal's epoch): renew from it */
		r = classify_conflict(l, ret_event);
		if (r <= 0)
			return r; /* lost, re-established with a new key, or an error */
	}
	if (r < 0) {
		if (!unreachable(r))
			return r;
		if (l->o.self_fence_after_ms &&
		    now_ms(l) - l->last_ok_ms >= l->o.self_fence_after_ms)
			return lose(l, SGPR_LEASE_LOST_SELF_FENCED, ret_event);
		*ret_event = SGPR_LEASE_UNREACHABLE;
		return 0;
	}
	l->key = key;

	r = read_state(l, &keys, &res);
	if (r < 0) {
		*ret_event = unreachable(r) ? SGPR_LEASE_UNREACHABLE : SGPR_LEASE_NONE;
		return unreachable(r) ? 0 : r;
	}
	l->last_gen = res.generation;
	if (res.held && res.key != key && !sgpr_type_is_all_registrants(res.type)) {
		free(keys);
		l->seen_holder = res.key;
		(void)sgpr_register(l->d, key, 0, false, NULL); /* do not linger as a registrant */
		return lose(l, SGPR_LEASE_LOST_PREEMPTED, ret_event);
	}
	if (!res.held) {
		/* Registered but nothing reserved (a RELEASE we did not send): reserve again. */
		r = sgpr_reserve(l->d, key, l->o.type, NULL);
		if (r < 0) {
			free(keys);
			return r == -EBADE ? lose(l, SGPR_LEASE_LOST_PREEMPTED, ret_event) : r;
		}
		*ret_event = SGPR_LEASE_RECOVERED;
	} else {
		*ret_event = SGPR_LEASE_RENEWED;
	}
	r = remove_lingering(l, keys, &removed);
	free(keys);
	if (r < 0)
		return r;
	if (removed && *ret_event == SGPR_LEASE_RENEWED)
		*ret_event = SGPR_LEASE_PEER_REMOVED;
	l->seen_holder = key;
	l->last_ok_ms = now_ms(l);
	return 0;
}

int sgpr_lease_observe(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	uint64_t now, own, key, victim;
	bool aborted;
	int r;

	if (!l || !ret_event)
		return -EINVAL;
	*ret_event = SGPR_LEASE_NONE;
	if (l->state == SGPR_LEASE_HELD)
		return 0;
	r = look(l, &res, &own);
	if (r < 0)
		return r;
	now = now_ms(l);

	if (!res.held || sgpr_type_is_all_registrants(res.type) || key_is_ours(l, res.key)) {
		l->seen_holder = 0;
		if (res.held && sgpr_type_is_all_registrants(res.type))
			return -EBADE;
		/* free, or held by our own key: acquire does both */
		return sgpr_lease_acquire(l, ret_event);
	}
	if (res.key != l->seen_holder) {
		l->seen_holder = res.key;
		l->seen_since_ms = now;
		return 0;
	}
	/* epoch 0 is a static reservation: never dead. Foreign keys only with force. */
	if (sgpr_key_split(res.key).epoch == 0 && sgpr_key_in_ns(res.key, l->o.ns))
		return 0;
	if (!sgpr_key_in_ns(res.key, l->o.ns) && !l->o.force)
		return 0;
	if (now - l->seen_since_ms < l->o.dead_after_ms)
		return 0;

	/* Dead by the lease rule: register, then preempt the exact key we saw. */
	victim = res.key;
	key = l->o.static_lease ? make_key(l, 0) : own ? next_key(l, own) : make_key(l, 1);
	if (own) {
		r = sgpr_adopt_key(l->d, own, NULL);
		if (r == 0 && own != key)
			r = sgpr_register(l->d, own, key, false, NULL);
	} else {
		r = sgpr_register(l->d, 0, key, false, NULL);
	}
	if (r < 0)
		return r;
	r = sgpr_preempt(l->d, key, victim, l->o.type, true, &aborted, NULL);
	if (r == -EBADE) {
		/* The holder renewed after our last look: it is alive. Back off. */
		(void)sgpr_register(l->d, key, 0, false, NULL);
		l->seen_since_ms = now; /* its next key restarts the watch */
		*ret_event = SGPR_LEASE_HOLDER_ALIVE;
		return 0;
	}
	if (r == 0)
		r = sgpr_read_reservation(l->d, &res, NULL);
	if (r == 0 && !(res.held && res.key == key))
		r = -EIO;
	if (r < 0) {
		(void)sgpr_register(l->d, key, 0, false, NULL);
		return r;
	}
	held_now(l, key);
	l->seen_holder = victim; /* for the caller's report: who was taken over */
	*ret_event = SGPR_LEASE_TAKEN_OVER;
	return 0;
}

int sgpr_lease_release(struct sgpr_lease *l)
{
	struct sgpr_reservation res;
	int r;

	if (!l)
		return -EINVAL;
	if (l->state != SGPR_LEASE_HELD)
		return 0;
	r = sgpr_read_reservation(l->d, &res, NULL);
	if (r < 0)
		return r;
	if (res.held && res.key == l->key) {
		r = sgpr_release(l->d, l->key, res.type, NULL);
		if (r < 0)
			return r;
	}
	r = sgpr_register(l->d, l->key, 0, false, NULL);
	if (r < 0)
		return r;
	l->state = SGPR_LEASE_IDLE;
	l->key = 0;
	return 0;
}
