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
 *
 * The top layer (docs/LAYERS.md): it only calls the PR commands (pr.c) and
 * key.c, never the device layer or a transport.
 */
#include "sgpr-private.h"

/*
 * The rules that keep the promise (DESIGN.md), each enforced here once:
 * - Keys never repeat: every acquisition starts a fresh random counter, and the
 *   epoch carries the holder's period, so an observer with other settings never
 *   waits less than the holder needs (SGPR_LEASE_DEAD_FLOOR_MS of that period).
 * - A watch restarts when two looks are further apart than two periods: a
 *   paused observer never counts time it did not see.
 * - Only the exact key this host recorded is adopted; any other key of this host
 *   id is another holder (a host-id clash, or an earlier holder that died).
 * - A lost registration is re-established only within the recovery window after
 *   the last renewal the target confirmed (its send time): past it, another host
 *   may have held the LUN meanwhile.
 * - A release parks the reservation under the namespace's parking key, so a
 *   preempted nexus stays refused after the new owner releases.
 */
#include <sys/random.h>

struct sgpr_lease {
	struct sgpr_dev *d; /* borrowed */
	struct sgpr_lease_opts o;
	enum sgpr_lease_state state;
	uint64_t key;	     /* our key while registered, else 0 */
	uint64_t last_ok_ms; /* send time of the last renewal (or acquisition) confirmed */
	uint32_t last_gen;   /* PRgeneration of the last READ RESERVATION */
	bool have_gen;
	bool release_unsure;  /* a release went out unanswered: our key may be gone by our hand */
	bool took_over_abort; /* the last takeover was a PREEMPT AND ABORT (SPC-4 5.12.11.5) */

	/* observer: the holder's key, since when it has not changed, and the last look */
	uint64_t seen_holder;
	uint64_t seen_since_ms;
	uint64_t last_look_ms;
	uint64_t withdraw_pending; /* a registration we failed to withdraw: retried first */
};

#define DEFAULT_PERIOD_MS SGPR_LEASE_PERIOD_MS_DEFAULT

static uint64_t now_ms(const struct sgpr_lease *l)
{
	return l->d->opts.clock->now_ms(l->d->opts.clock->userdata);
}

static uint32_t random_counter(const struct sgpr_lease *l)
{
	const struct sgpr_clock *c = l->d->opts.clock;
	uint32_t v = 0;

	if (c->random_u32)
		v = c->random_u32(c->userdata);
	else if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)now_ms(l) * 2654435761u; /* no entropy yet: time-derived */
	v &= SGPR_EPOCH_COUNTER_MASK;
	return v ? v : 1;
}

/* A key no acquisition used before: static (epoch 0), or a lease key with a fresh counter. */
static uint64_t fresh_key(const struct sgpr_lease *l)
{
	if (l->o.static_lease)
		return sgpr_key_make(l->o.ns, l->o.host_id, 0);
	return sgpr_key_make_lease(l->o.ns, l->o.host_id, l->o.period_ms, random_counter(l));
}

/* The renewal of key: the counter + 1 (never 0), our period code. */
static uint64_t next_key(const struct sgpr_lease *l, uint64_t key)
{
	if (l->o.static_lease)
		return key;
	return sgpr_key_make_lease(l->o.ns, l->o.host_id, l->o.period_ms,
				   (sgpr_key_split(key).epoch & SGPR_EPOCH_COUNTER_MASK) + 1);
}

static bool key_of_our_host(const struct sgpr_lease *l, uint64_t key)
{
	return sgpr_key_in_ns(key, l->o.ns) && sgpr_key_split(key).host_id == l->o.host_id;
}

static bool is_parking(const struct sgpr_lease *l, uint64_t key)
{
	return sgpr_key_is_parking(key, l->o.ns);
}

/*
 * key is the recorded key or one of its later renewals (a restarted holder records its key
 * at most once a period, so the target may be a few renewals ahead): same host, same period
 * code, counter at most SGPR_ADOPT_RENEWALS_MAX ahead. A fresh acquisition has a random counter.
 */
#define SGPR_ADOPT_RENEWALS_MAX 1024u
static bool recorded_lineage(const struct sgpr_lease *l, uint64_t key)
{
	uint64_t rec = l->o.adopt_key;
	uint32_t d;

	if (!rec || (key >> 24) != (rec >> 24))
		return false; /* namespace, host id and period code must match */
	if (!sgpr_key_split(rec).epoch)
		return key == rec; /* static */
	/* the counter skips 0 when it wraps */
	d = ((uint32_t)key & SGPR_EPOCH_COUNTER_MASK) - ((uint32_t)rec & SGPR_EPOCH_COUNTER_MASK);
	return (d & SGPR_EPOCH_COUNTER_MASK) <= SGPR_ADOPT_RENEWALS_MAX;
}

/* Past this since the last confirmed renewal, a lost registration is never re-established. */
static uint64_t recovery_window_ms(const struct sgpr_lease *l)
{
	unsigned floor = SGPR_LEASE_DEAD_FLOOR_MS(l->o.period_ms);

	return l->o.dead_after_ms < floor ? l->o.dead_after_ms : floor;
}

/* How long the holder key must stay unchanged before we call it dead. */
static unsigned dead_after_for(const struct sgpr_lease *l, uint64_t holder)
{
	unsigned floor = SGPR_LEASE_DEAD_FLOOR_MS(sgpr_key_period_ms(holder, l->o.ns));

	return l->o.dead_after_ms > floor ? l->o.dead_after_ms : floor;
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
		[SGPR_LEASE_LOST_EXPIRED] = "lost-expired",
		[SGPR_LEASE_PARKED] = "parked",
	};

	if ((unsigned)ev >= sizeof(names) / sizeof(names[0]) || !names[ev])
		return NULL;
	return names[ev];
}

int sgpr_lease_new(struct sgpr_dev *d, const struct sgpr_lease_opts *opts, struct sgpr_lease **ret)
{
	struct sgpr_lease_opts o;
	struct sgpr_lease *l;
	int r;

	if (!d || !opts || !ret)
		return -EINVAL;
	r = sgpr_opts_copy(&o, sizeof(o), opts);
	if (r < 0)
		return r;
	if (!o.host_id || !o.ns)
		return -EINVAL;
	if (o.type && !sgpr_type_to_name(o.type))
		return -EINVAL;
	if (o.period_ms > SGPR_LEASE_PERIOD_MAX_MS)
		return -ERANGE; /* the key's period code cannot announce it */
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->o = o;
	if (!l->o.type)
		l->o.type = SGPR_TYPE_WERO;
	if (!l->o.period_ms)
		l->o.period_ms = DEFAULT_PERIOD_MS;
	if (!l->o.dead_after_ms)
		l->o.dead_after_ms = SGPR_LEASE_DEAD_FLOOR_MS(l->o.period_ms);
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

bool sgpr_lease_takeover_aborted(const struct sgpr_lease *l)
{
	return l && l->took_over_abort;
}

uint64_t sgpr_lease_last_renewal_ms(const struct sgpr_lease *l)
{
	return l ? l->last_ok_ms : 0;
}

unsigned sgpr_lease_holder_period_ms(const struct sgpr_lease *l)
{
	return l ? sgpr_key_period_ms(l->seen_holder, l->o.ns) : 0;
}

unsigned sgpr_lease_dead_after_ms(const struct sgpr_lease *l)
{
	return l ? dead_after_for(l, l->seen_holder) : 0;
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

static void held_now(struct sgpr_lease *l, uint64_t key, uint64_t sent_ms)
{
	l->key = key;
	l->state = SGPR_LEASE_HELD;
	l->last_ok_ms = sent_ms;
	l->seen_holder = key;
	l->release_unsure = false;
}

/* The key stays readable (sgpr_lease_key) for the report of what was lost. */
static int lose(struct sgpr_lease *l, enum sgpr_lease_event ev, enum sgpr_lease_event *ret_event)
{
	l->state = SGPR_LEASE_LOST;
	*ret_event = ev;
	return 0;
}

/* Held by a key of our namespace of another host id: never on this nexus. */
static bool held_by_other_host(const struct sgpr_lease *l, const struct sgpr_reservation *res)
{
	return res->held && !sgpr_type_is_all_registrants(res->type) &&
	       sgpr_key_in_ns(res->key, l->o.ns) && !key_of_our_host(l, res->key);
}

/* Withdraw key from this nexus: a loser never lingers as a registrant (RO types let it write). */
static void withdraw(struct sgpr_lease *l, uint64_t key)
{
	struct sgpr_reservation res;
	int r = sgpr_read_reservation(l->d, &res, NULL);

	/* SPC-4 5.12.11.2.4: unregistering the holder would release; park instead */
	if (r == 0 && res.held && res.key == key)
		r = sgpr_park(l->d, l->o.ns, key);
	else if (r == 0 && (!res.held || held_by_other_host(l, &res)))
		/* nobody, or another host of our namespace holds it, so this nexus holds
		 * nothing: whatever key each path took (a lost answer on one path, an older key
		 * on another) goes */
		r = sgpr_unregister_every_path(l->d, 0);
	else if (r == 0)
		/* this nexus may hold it (the parker, another key of this host, a foreign key of
		 * a guest on this nexus): our key only */
		r = sgpr_unregister_every_path(l->d, key);
	l->withdraw_pending = r < 0 && r != -EBADE ? key : 0;
}

/* Before a standby acts again: the registration a failed withdrawal left behind goes first. */
static int withdraw_leftover(struct sgpr_lease *l)
{
	if (!l->withdraw_pending)
		return 0;
	withdraw(l, l->withdraw_pending);
	return l->withdraw_pending ? -EAGAIN : 0;
}

/* After the REGISTER to the parking key (registered: its result): is the LUN parked? */
static int park_confirm(struct sgpr_dev *d, uint64_t parking, int registered)
{
	struct sgpr_reservation res;
	int r = sgpr_read_reservation(d, &res, NULL);

	if (r < 0)
		return r;
	if (res.held && res.key == parking)
		return 0;
	return registered < 0 ? registered : -EPROTO;
}

int sgpr_park(struct sgpr_dev *d, uint16_t ns, uint64_t key)
{
	int r;

	if (!d || !ns || !key)
		return -EINVAL;
	/* SPC-4 5.12.7: a holder that registers a new key keeps the reservation under it */
	r = sgpr_register(d, key, sgpr_key_parking(ns), false, NULL);
	/* a path that missed a renewal refuses (conflict): the holder's path is what counts */
	if (r < 0 && r != -EBADE)
		return r;
	return park_confirm(d, sgpr_key_parking(ns), r);
}

/*
 * Just after we took the reservation: every other registration of our namespace goes (SPC-4
 * 5.12.11.4.3, PREEMPT of a non-holder key removes only its registrations), so no other
 * host's nexus can write under the registrants-only types: leftovers of failed takeovers,
 * static registrations, the parker, and every path of a victim host that missed a renewal
 * (those with ABORT: their queued commands go too). Foreign keys are never touched.
 * victim_paths_only (a takeover whose outcome is unknown): only the victim host's other keys,
 * never its holder key, which only the PREEMPT may take.
 */
static void remove_others(struct sgpr_lease *l, uint64_t key, uint64_t victim,
			  bool victim_paths_only)
{
	/* a second pass reads the keys back: a lost answer must not leave a writer for a period */
	for (int pass = 0; pass < 2; pass++) {
		struct sgpr_keys *keys = NULL;
		unsigned found = 0;

		if (sgpr_read_keys(l->d, &keys, NULL) < 0)
			continue; /* else the owner's next renewal removes them */
		for (uint32_t i = 0; i < keys->count; i++) {
			uint64_t k = keys->keys[i];
			bool victims = victim && sgpr_key_in_ns(victim, l->o.ns) &&
				       sgpr_key_split(k).host_id == sgpr_key_split(victim).host_id;

			if (k == key || !(sgpr_key_in_ns(k, l->o.ns) || is_parking(l, k)))
				continue;
			if (victim_paths_only &&
			    (!victims || k == victim || !sgpr_key_in_ns(k, l->o.ns)))
				continue;
			found++;
			(void)sgpr_preempt(l->d, key, k, l->o.type, victims, NULL, NULL);
		}
		free(keys);
		if (!found)
			return;
	}
}

/*
 * Register key on every path and take the reservation: ours already (this nexus parked it),
 * PREEMPT of the parking key (SPC-4 5.12.11.4.3), or RESERVE of a free LUN. Confirmed by
 * READ RESERVATION; on failure the registration is withdrawn again.
 */
static int take(struct sgpr_lease *l, uint64_t key)
{
	struct sgpr_reservation res;
	int r;

	/* IGNORE EXISTING KEY: this nexus may still carry the parking key of its own release */
	r = sgpr_register(l->d, 0, key, true, NULL);
	if (r < 0) {
		withdraw(l, key); /* some paths may have taken it (or its answer was lost) */
		return r;
	}
	r = sgpr_read_reservation(l->d, &res, NULL);
	if (r == 0 && res.held && res.key == key && res.type != l->o.type)
		r = sgpr_preempt(l->d, key, key, l->o.type, false, NULL, NULL);
	else if (r == 0 && res.held && is_parking(l, res.key))
		r = sgpr_preempt(l->d, key, res.key, l->o.type, false, NULL, NULL);
	else if (r == 0 && !res.held)
		r = sgpr_reserve(l->d, key, l->o.type, NULL);
	else if (r == 0 && res.key != key)
		r = -EBADE; /* somebody reserved since our look */
	if (r == 0)
		r = sgpr_read_reservation(l->d, &res, NULL);
	if (r == 0 && !(res.held && res.key == key && res.type == l->o.type))
		r = -EBADE;
	if (r < 0)
		withdraw(l, key);
	else
		remove_others(l, key, 0, false);
	return r;
}

/*
 * The first look of a new lease (a new process): a key of our host id that does not hold may be
 * a leftover of this nexus (a takeover of a process that died before it could withdraw). With
 * another host holding, this nexus holds nothing, so clearing it is safe (SPC-4 5.12.7).
 */
static void clear_leftover(struct sgpr_lease *l, const struct sgpr_reservation *res,
			   const struct sgpr_keys *keys)
{
	bool ours = false;

	if (!held_by_other_host(l, res))
		return; /* this nexus may hold it: never cleared blindly */
	for (uint32_t i = 0; i < keys->count; i++)
		ours |= key_of_our_host(l, keys->keys[i]);
	if (ours)
		(void)sgpr_unregister_every_path(l->d, 0);
}

/* Reservation and keys; a new holder, or a look after a gap, restarts the watch. */
static int look(struct sgpr_lease *l, struct sgpr_reservation *res, struct sgpr_keys **keys)
{
	uint64_t now;
	bool gap;
	int r = read_state(l, keys, res);

	if (r < 0)
		return r;
	l->last_gen = res->generation;
	l->have_gen = true;
	now = now_ms(l);
	gap = l->last_look_ms && now - l->last_look_ms > 2ull * l->o.period_ms;
	if (!l->last_look_ms && !l->o.adopt_key)
		clear_leftover(l, res, *keys);
	l->last_look_ms = now;
	if (!res->held || sgpr_type_is_all_registrants(res->type) || is_parking(l, res->key)) {
		l->seen_holder = 0;
	} else if (res->key != l->seen_holder || gap) {
		l->seen_holder = res->key;
		l->seen_since_ms = now;
	}
	return 0;
}

/*
 * The start of acquire and observe: a leftover withdrawn first, then one look at the target.
 * 1: this lease holds already (nothing to do), 0: *res is the target's reservation, -errno.
 */
static int begin(struct sgpr_lease *l, enum sgpr_lease_event *ret_event,
		 struct sgpr_reservation *res, uint64_t *ret_now)
{
	struct sgpr_keys *keys = NULL;
	int r;

	if (!l || !ret_event)
		return -EINVAL;
	*ret_event = SGPR_LEASE_NONE;
	if (l->state == SGPR_LEASE_HELD)
		return 1;
	r = withdraw_leftover(l);
	if (r < 0)
		return r;
	*ret_now = now_ms(l);
	r = look(l, res, &keys);
	if (r < 0)
		return r;
	free(keys);
	/* an all-registrants reservation is shared, never a lease */
	return res->held && sgpr_type_is_all_registrants(res->type) ? -EBADE : 0;
}

static int acquire_once(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	uint64_t sent, key;
	int r;

	r = begin(l, ret_event, &res, &sent);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (res.held && !is_parking(l, res.key)) {
		/*
		 * Only the key this host recorded is adopted (a restart of its holder). Any
		 * other key, of this host id too, is another holder: sgpr_lease_observe()
		 * takes it over once it is dead by the lease rule.
		 */
		if (!recorded_lineage(l, res.key) || res.type != l->o.type)
			return -EBADE;
		r = sgpr_adopt_key(l->d, res.key, NULL);
		if (r < 0)
			return r;
		/*
		 * Renew at once: the key has not changed while this host was away, and a
		 * watcher may already count it dead. If one preempted it first, the REGISTER
		 * conflicts and the storage has decided.
		 */
		key = next_key(l, res.key);
		r = key == res.key ? 0 : sgpr_register(l->d, res.key, key, false, NULL);
		if (r < 0)
			return r;
		held_now(l, key, sent);
		*ret_event = SGPR_LEASE_ADOPTED;
		return 0;
	}
	if (l->o.adopt_key && sent - l->o.adopt_confirmed_ms >= recovery_window_ms(l)) {
		/* our recorded key is gone and too much time passed: someone may have held it */
		l->key = l->o.adopt_key;
		return lose(l, SGPR_LEASE_LOST_EXPIRED, ret_event);
	}
	key = fresh_key(l);
	r = take(l, key);
	if (r < 0)
		return r;
	held_now(l, key, sent);
	*ret_event = l->o.adopt_key ? SGPR_LEASE_RECOVERED : SGPR_LEASE_ACQUIRED;
	return 0;
}

int sgpr_lease_acquire(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	int r = acquire_once(l, ret_event);

	/* the recorded key is for the re-adoption only: once decided, later acquisitions are
	 * fresh ones */
	if (l && (r == 0 || r == -EBADE))
		l->o.adopt_key = 0;
	return r;
}

/* k is one of our own earlier keys of this acquisition (same lineage, a few renewals back). */
static bool earlier_of_ours(const struct sgpr_lease *l, uint64_t k)
{
	uint32_t d = ((uint32_t)l->key & SGPR_EPOCH_COUNTER_MASK) -
		     ((uint32_t)k & SGPR_EPOCH_COUNTER_MASK);

	return (k >> 24) == (l->key >> 24) && sgpr_key_split(k).epoch &&
	       (d & SGPR_EPOCH_COUNTER_MASK) <= SGPR_ADOPT_RENEWALS_MAX;
}

/*
 * While we hold: every other registration of our namespace goes at each renewal (static ones,
 * a clash, a stale path, a challenger whose PREEMPT of our old key would fail anyway): under the
 * registrants-only types every registrant can write. Foreign keys are never touched.
 */
static void remove_others_held(struct sgpr_lease *l, const struct sgpr_keys *keys,
			       bool *ret_removed)
{
	for (uint32_t i = 0; i < keys->count; i++) {
		uint64_t k = keys->keys[i];

		if (k == l->key || (!sgpr_key_in_ns(k, l->o.ns) && !is_parking(l, k)))
			continue;
		if (earlier_of_ours(l, k))
			continue; /* a path of ours that missed a renewal: it rejoins by adoption */
		/* SPC-4 5.12.11.4.3: preempting a non-holder only removes its registrations */
		if (sgpr_preempt(l->d, l->key, k, l->o.type, false, NULL, NULL) == 0)
			*ret_removed = true;
	}
}

/*
 * The renewal failed with RESERVATION CONFLICT: our registration on this
 * nexus is gone. Find out why from READ KEYS / READ RESERVATION. Returns 1
 * when our key is back on this nexus (renew again from l->key).
 */
static int classify_conflict(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	struct sgpr_keys *keys = NULL;
	bool ours_listed, others, reset;
	uint64_t sent = now_ms(l), key;
	int r;

	r = read_state(l, &keys, &res);
	if (r < 0)
		return r;
	ours_listed = listed(keys, l->key);
	if (!ours_listed && listed(keys, next_key(l, l->key))) {
		/* a renewal whose answer was lost (timed out) and that the target carried out */
		l->key = next_key(l, l->key);
		ours_listed = true;
	}
	others = keys->count > (ours_listed ? 1u : 0u);
	/* A generation that went backwards means the target lost its state (restart, no APTPL). */
	reset = l->have_gen && res.generation < l->last_gen;
	l->last_gen = res.generation;
	l->have_gen = true;
	free(keys);

	if (ours_listed) {
		/* our key is there but not on this nexus (a re-login on tgt): take it back */
		r = sgpr_adopt_key(l->d, l->key, NULL);
		if (r < 0)
			return r;
		*ret_event = SGPR_LEASE_RECOVERED;
		return 1;
	}
	if (res.held && !sgpr_type_is_all_registrants(res.type)) {
		/* preempted (by a peer, or by a host with our host id: a clash), maybe parked since
		 */
		l->seen_holder = res.key;
		return lose(l, reset ? SGPR_LEASE_LOST_TARGET : SGPR_LEASE_LOST_PREEMPTED,
			    ret_event);
	}
	if (reset || (!others && res.generation == 0)) {
		/*
		 * State lost and nobody holds it: re-establish, but only while nobody could
		 * have taken over and released in between, and never after a release of ours
		 * that may have parked the LUN: a successor may have taken it before the
		 * target lost its state.
		 */
		if (l->release_unsure || sent - l->last_ok_ms >= recovery_window_ms(l))
			return lose(l, SGPR_LEASE_LOST_EXPIRED, ret_event);
		key = fresh_key(l);
		r = take(l, key);
		/*
		 * A failed re-establishment is a loss, whatever failed: our old key is gone, and
		 * the withdrawal may have parked the LUN, which anyone may acquire at once.
		 */
		if (r < 0) {
			l->key = key;
			return lose(l, SGPR_LEASE_LOST_TARGET, ret_event);
		}
		held_now(l, key, l->last_ok_ms);
		*ret_event = SGPR_LEASE_RECOVERED;
		return 0;
	}
	return lose(l, SGPR_LEASE_LOST_CLEARED, ret_event);
}

static int renew_once(struct sgpr_lease *l, uint64_t sent, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	struct sgpr_keys *keys = NULL;
	bool removed = false;
	uint64_t key = l->key;
	int r = 0;

	for (int pass = 0; pass < 2; pass++) {
		key = next_key(l, l->key);
		r = key == l->key ? 0 : sgpr_register(l->d, l->key, key, false, NULL);
		if (r != -EBADE)
			break;
		r = classify_conflict(l, ret_event);
		if (r <= 0)
			return r; /* lost, re-established with a new key, or an error */
	}
	if (r < 0) {
		if (!unreachable(r))
			return r;
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
	l->have_gen = true;
	if (res.held && res.key != key && !sgpr_type_is_all_registrants(res.type)) {
		free(keys);
		l->seen_holder = res.key;
		(void)sgpr_register(l->d, key, 0, false, NULL); /* do not linger as a registrant */
		return lose(l, SGPR_LEASE_LOST_PREEMPTED, ret_event);
	}
	if (!res.held) {
		/* Our key survived but nothing is reserved (a RELEASE we did not send). */
		r = sgpr_reserve(l->d, key, l->o.type, NULL);
		if (r < 0) {
			free(keys);
			return r == -EBADE ? lose(l, SGPR_LEASE_LOST_PREEMPTED, ret_event) : r;
		}
		*ret_event = SGPR_LEASE_RECOVERED;
	} else {
		*ret_event = SGPR_LEASE_RENEWED;
	}
	remove_others_held(l, keys, &removed);
	free(keys);
	if (removed && *ret_event == SGPR_LEASE_RENEWED)
		*ret_event = SGPR_LEASE_PEER_REMOVED;
	l->seen_holder = key;
	l->last_ok_ms = sent;
	return 0;
}

int sgpr_lease_renew(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	uint64_t sent;
	int r;

	if (!l || !ret_event)
		return -EINVAL;
	*ret_event = SGPR_LEASE_NONE;
	if (l->state != SGPR_LEASE_HELD)
		return -ENOLCK;
	sent = now_ms(l);
	r = renew_once(l, sent, ret_event);
	/* any renewal the target did not confirm counts toward self-fencing, whatever failed */
	if (l->state == SGPR_LEASE_HELD && l->o.self_fence_after_ms && l->last_ok_ms < sent &&
	    (r < 0 || *ret_event == SGPR_LEASE_UNREACHABLE || *ret_event == SGPR_LEASE_NONE) &&
	    now_ms(l) - l->last_ok_ms >= l->o.self_fence_after_ms)
		return lose(l, SGPR_LEASE_LOST_SELF_FENCED, ret_event);
	return r;
}

int sgpr_lease_observe(struct sgpr_lease *l, enum sgpr_lease_event *ret_event)
{
	struct sgpr_reservation res;
	uint64_t now, key, victim;
	bool aborted;
	int r;

	r = begin(l, ret_event, &res, &now);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (!res.held || is_parking(l, res.key) || recorded_lineage(l, res.key)) {
		/* free, parked, or ours to adopt */
		r = sgpr_lease_acquire(l, ret_event);
		/*
		 * Another host reserved it first (after our look): a new holder, whose watch
		 * starts now (look() reset it), not an error for a standby.
		 */
		if (r == -EBADE && l->seen_holder && !recorded_lineage(l, l->seen_holder))
			return 0;
		return r;
	}
	/* epoch 0 is a static reservation: never dead. Foreign keys only with force. */
	if (sgpr_key_split(res.key).epoch == 0 && sgpr_key_in_ns(res.key, l->o.ns))
		return 0;
	if (!sgpr_key_in_ns(res.key, l->o.ns) && !l->o.force)
		return 0;
	if (now_ms(l) - l->seen_since_ms < dead_after_for(l, res.key))
		return 0;

	/* Dead by the lease rule: register, then preempt the exact key we saw. */
	victim = res.key;
	key = fresh_key(l);
	r = sgpr_register(l->d, 0, key, true, NULL);
	if (r < 0) {
		withdraw(l, key); /* some paths may have taken it */
		return r;
	}
	r = sgpr_preempt(l->d, key, victim, l->o.type, true, &aborted, NULL);
	if (r == -EBADE) {
		/* The holder renewed after our last look: it is alive. Back off. */
		withdraw(l, key);
		l->seen_since_ms = now_ms(l); /* its next key restarts the watch */
		*ret_event = SGPR_LEASE_HOLDER_ALIVE;
		return 0;
	}
	if (r == 0)
		r = sgpr_read_reservation(l->d, &res, NULL);
	if (r == 0 && !(res.held && res.key == key))
		r = -EPROTO;
	if (r < 0) {
		/*
		 * The PREEMPT may have been carried out (its answer lost): the dead holder's other
		 * paths go too, but never its holder key itself, which only the PREEMPT may take.
		 */
		remove_others(l, key, victim, true);
		withdraw(l, key);
		return r;
	}
	remove_others(l, key, victim, false);
	held_now(l, key, now);
	l->seen_holder = victim; /* for the caller's report: who was taken over */
	l->took_over_abort = aborted;
	*ret_event = SGPR_LEASE_TAKEN_OVER;
	return 0;
}

/* 1: our key is registered, 0: it is gone (a lost answer was carried out), -errno: unknown */
static int key_still_listed(struct sgpr_lease *l)
{
	struct sgpr_keys *keys = NULL;
	int r = sgpr_read_keys(l->d, &keys, NULL);

	if (r < 0)
		return r;
	r = listed(keys, l->key);
	free(keys);
	return r;
}

int sgpr_lease_release(struct sgpr_lease *l)
{
	struct sgpr_reservation res;
	uint64_t key;
	int r, parked;

	if (!l)
		return -EINVAL;
	if (l->state != SGPR_LEASE_HELD)
		return 0;
	r = sgpr_read_reservation(l->d, &res, NULL);
	if (r < 0)
		return r;
	if (!res.held || res.key != l->key) {
		r = sgpr_register(l->d, l->key, 0, false, NULL);
		if (r < 0) {
			l->release_unsure = true;
			return r;
		}
		l->state = SGPR_LEASE_IDLE;
		l->key = 0;
		return 0;
	}
	r = sgpr_register(l->d, l->key, sgpr_key_parking(l->o.ns), false, NULL);
	parked = park_confirm(l->d, sgpr_key_parking(l->o.ns), r);
	if (parked != 0 && r < 0 && r != -EBADE && key_still_listed(l) != 0) {
		/* nothing changed, or unknown: the next renewal tells, but never re-establishes */
		l->release_unsure = true;
		return r;
	}
	/* the holder's path took the parking key (or our key is gone): we hold nothing now */
	key = l->key;
	l->state = SGPR_LEASE_IDLE;
	l->key = 0;
	if (parked == 0 && r < 0) {
		/* a path that did not answer may keep our key: it goes, now or before the next
		 * acquire or observe (withdraw_pending) */
		withdraw(l, key);
		return 0;
	}
	return parked;
}
