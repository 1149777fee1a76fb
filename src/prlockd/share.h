/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The share of prlockd's workers (pool.c) a non-root uid may hold: the pool's admission rule,
 * without threads, so that it is unit-tested (tests/unit/test-table.c). Not locked: the pool
 * calls it under its own lock.
 *
 * With W workers, the acquire lane (acquires, observations of acquire --wait) uses at most
 * W - 1 threads (one is left to renewals); the jobs of all non-root owners together use at most
 * W - 1 (one is left to root); one non-root uid's jobs use at most W - 2 of them (one is left to
 * every other uid), and its acquire-lane jobs at most half of the acquire threads. Each bound is
 * at least 1, so with W <= 2 only root's thread is guaranteed.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct share;

/* The admission state for a pool of workers threads; NULL when out of memory. */
struct share *share_new(unsigned workers);
struct share *share_free(struct share *s);
/* The bounds it applies (for messages and tests). */
unsigned share_acquire_max(const struct share *s);     /* acquire-lane jobs, all owners */
unsigned share_others_max(const struct share *s);      /* jobs of non-root owners */
unsigned share_uid_max(const struct share *s);	       /* jobs of one non-root uid */
unsigned share_uid_acquire_max(const struct share *s); /* its acquire-lane jobs */
/* May a job of owner uid in this lane start now? */
bool share_may_start(const struct share *s, uid_t uid, bool acquire_lane);
/* A job that share_may_start() allowed starts, or ends. */
void share_start(struct share *s, uid_t uid, bool acquire_lane);
void share_end(struct share *s, uid_t uid, bool acquire_lane);
