/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The share of the workers a non-root uid may hold (share.h). */
#include <errno.h>
#include <stdlib.h>

#include "share.h"

struct slot {
	uid_t uid;
	unsigned all, acq; /* its running jobs, and those of the acquire lane */
};

struct share {
	unsigned acq_max, others_max, uid_max, uid_acq_max;
	unsigned acq, others; /* running: acquire-lane jobs, non-root owners' jobs */
	unsigned n;	      /* slots in use: at most one per running job */
	struct slot slot[];
};

static unsigned at_least_1(unsigned v)
{
	return v ? v : 1;
}

struct share *share_new(unsigned workers)
{
	struct share *s = calloc(1, sizeof(*s) + at_least_1(workers) * sizeof(s->slot[0]));

	if (!s)
		return NULL;
	s->acq_max = workers > 1 ? workers - 1 : 1; /* one worker serves both lanes in order */
	s->others_max = s->acq_max;
	s->uid_max = at_least_1(s->others_max - 1);
	s->uid_acq_max = at_least_1(s->acq_max / 2);
	return s;
}

struct share *share_free(struct share *s)
{
	free(s);
	return NULL;
}

unsigned share_acquire_max(const struct share *s)
{
	return s->acq_max;
}

unsigned share_others_max(const struct share *s)
{
	return s->others_max;
}

unsigned share_uid_max(const struct share *s)
{
	return s->uid_max;
}

unsigned share_uid_acquire_max(const struct share *s)
{
	return s->uid_acq_max;
}

static struct slot *find(const struct share *s, uid_t uid)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->slot[i].uid == uid)
			return (struct slot *)&s->slot[i];
	return NULL;
}

bool share_may_start(const struct share *s, uid_t uid, bool acquire_lane)
{
	const struct slot *u;

	if (acquire_lane && s->acq >= s->acq_max)
		return false;
	if (uid == 0)
		return true;
	if (s->others >= s->others_max)
		return false;
	u = find(s, uid);
	if (!u)
		return true;
	return u->all < s->uid_max && !(acquire_lane && u->acq >= s->uid_acq_max);
}

void share_start(struct share *s, uid_t uid, bool acquire_lane)
{
	struct slot *u;

	s->acq += acquire_lane;
	if (uid == 0)
		return;
	s->others++;
	u = find(s, uid);
	if (!u) {
		u = &s->slot[s->n++]; /* others <= others_max < workers: a slot is free */
		*u = (struct slot){.uid = uid};
	}
	u->all++;
	u->acq += acquire_lane;
}

void share_end(struct share *s, uid_t uid, bool acquire_lane)
{
	struct slot *u;

	s->acq -= acquire_lane;
	if (uid == 0)
		return;
	s->others--;
	u = find(s, uid);
	u->all--;
	u->acq -= acquire_lane;
	if (!u->all)
		*u = s->slot[--s->n];
}
