// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * prlockd's lease table (src/prlockd/table.h) without devices: the owner of a lease and who may
 * release it or protect under it, the per-uid bound of pending acquires, the owner's
 * credentials handed to ops->dev_open, and state files with owners and long lines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "share.h"
#include "table.h"

#define DEV "iscsi://192.0.2.1/iqn.2026-11.io.sgpr:t/1"

struct fake {
	struct table *t;
	uint64_t now;
	struct table_job *jobs[64];
	unsigned n_jobs;
	unsigned replies;
	struct table_reply last;
	char error[64], message[1024];
	char *state;
	/* what dev_open got */
	unsigned opens;
	uid_t open_uid;
	size_t open_n_groups;
	gid_t open_group0;
};

static uint64_t now_ms(void *userdata)
{
	return ((struct fake *)userdata)->now;
}

static void op_submit(void *userdata, struct table_job *job)
{
	struct fake *f = userdata;

	assert_true(f->n_jobs < 64);
	f->jobs[f->n_jobs++] = job;
}

static void op_reply(void *userdata, void *waiter, const struct table_reply *rp)
{
	struct fake *f = userdata;

	(void)waiter;
	f->replies++;
	f->last = *rp;
	snprintf(f->error, sizeof(f->error), "%s", rp->error ? rp->error : "");
	snprintf(f->message, sizeof(f->message), "%s", rp->message ? rp->message : "");
	f->last.error = f->error;
	f->last.message = f->message;
}

static int op_dev_open(void *userdata, const char *dev, const struct table_cred *owner,
		       struct sgpr_dev **ret)
{
	struct fake *f = userdata;

	(void)dev;
	(void)ret;
	f->opens++;
	f->open_uid = owner->uid;
	f->open_n_groups = owner->n_groups;
	f->open_group0 = owner->n_groups ? owner->groups[0] : (gid_t)-1;
	return -EPERM;
}

static bool op_proc_alive(void *userdata, const struct protected_proc *p)
{
	(void)userdata;
	(void)p;
	return true;
}

static int op_state_write(void *userdata, const char *buf, size_t len)
{
	struct fake *f = userdata;

	free(f->state);
	f->state = strndup(buf, len);
	return 0;
}

static struct sgpr_clock clk = {.now_ms = now_ms};

static struct fake *fake_new(const char *state)
{
	static const struct table_ops ops = {
		.submit = op_submit,
		.reply = op_reply,
		.dev_open = op_dev_open,
		.proc_alive = op_proc_alive,
		.state_write = op_state_write,
	};
	struct fake *f = calloc(1, sizeof(*f));
	struct table_config cfg = {.clock = &clk,
				   .ns = 1,
				   .host_id = 1,
				   .period_ms = 1000,
				   .dead_after_ms = 4000,
				   .kill_grace_ms = 1000};

	assert_non_null(f);
	f->now = 1000;
	clk.userdata = f;
	assert_int_equal(table_new(&cfg, &ops, f, &f->t), 0);
	if (state)
		assert_int_equal(table_state_load(f->t, state, "leases"), 0);
	return f;
}

static void fake_free(struct fake *f)
{
	table_free(f->t);
	free(f->state);
	free(f);
}

static uid_t owner_of(struct fake *f, const char *dev)
{
	struct table_info i;

	for (size_t k = 0; k < table_count(f->t); k++) {
		table_info(f->t, k, &i);
		if (strcmp(i.dev, dev) == 0)
			return i.owner;
	}
	fail_msg("%s not in the table", dev);
	return 0;
}

/* A lease recorded for uid 1001 (re-adopting: protect and release apply to it). */
static const char *state_1001 =
	DEV " write-exclusive-reg-only key=0x0001000100000007 confirmed=900 owner=1001 4242:77\n";

static void test_state_owner(void **s)
{
	struct fake *f = fake_new(state_1001);

	(void)s;
	assert_int_equal(owner_of(f, DEV), 1001);
	fake_free(f);

	/* a line of an older prlockd: root's */
	f = fake_new(DEV
		     " write-exclusive-reg-only key=0x0001000100000007 confirmed=900 4242:77\n");
	assert_int_equal(owner_of(f, DEV), 0);
	fake_free(f);
}

static void test_release_owner_only(void **s)
{
	struct fake *f = fake_new(state_1001);
	int w;

	(void)s;
	table_release(f->t, &w, 1002, DEV);
	assert_int_equal(f->replies, 1);
	assert_int_equal(f->last.kind, TABLE_REPLY_ERROR);
	assert_string_equal(f->last.error, "denied");
	assert_non_null(strstr(f->last.message, DEV));
	assert_non_null(strstr(f->last.message, "uid 1001"));
	assert_int_equal(table_count(f->t), 1);

	table_release(f->t, &w, 1001, DEV); /* its owner: forgotten (not re-adopted yet) */
	assert_int_equal(f->replies, 2);
	assert_int_equal(f->last.kind, TABLE_REPLY_RELEASED);
	assert_int_equal(table_count(f->t), 0);
	fake_free(f);

	f = fake_new(state_1001);
	table_release(f->t, &w, 0, DEV); /* root */
	assert_int_equal(f->last.kind, TABLE_REPLY_RELEASED);
	assert_int_equal(table_count(f->t), 0);
	fake_free(f);
}

static void test_protect_owner_only(void **s)
{
	struct fake *f = fake_new(state_1001);
	struct protected_proc p = {.pid = 5000, .start = 1};
	struct table_info i;

	(void)s;
	assert_int_equal(table_protect(f->t, DEV, 1002, &p), -EPERM);
	table_info(f->t, 0, &i);
	assert_int_equal(i.n_procs, 1);
	assert_int_equal(table_protect(f->t, DEV, 1001, &p), 0);
	p.pid = 5001;
	assert_int_equal(table_protect(f->t, DEV, 0, &p), 0);
	table_info(f->t, 0, &i);
	assert_int_equal(i.n_procs, 3);
	assert_int_equal(table_protect(f->t, "/dev/nothing", 0, &p), -ENOENT);
	fake_free(f);
}

static void test_acquire_other_uids_lease(void **s)
{
	struct fake *f = fake_new(state_1001);
	struct table_cred c = {.uid = 1003};
	int w;

	(void)s;
	table_acquire(f->t, &w, &c, DEV, SGPR_TYPE_WERO, false, 0);
	assert_int_equal(f->replies, 1);
	assert_string_equal(f->last.error, "denied");
	assert_non_null(strstr(f->last.message, "uid 1001"));
	assert_int_equal(f->n_jobs, 0);
	fake_free(f);
}

static void test_acquire_bound_per_uid(void **s)
{
	struct fake *f = fake_new(NULL);
	gid_t groups[] = {50, 60};
	struct table_cred c = {
		.uid = 1002, .gid = 1002, .groups = groups, .n_groups = 2, .groups_known = true};
	struct table_cred root = {};
	char dev[64];
	int w;

	(void)s;
	/* 7 devices and a second acquire of the first one (queued behind it): 8 pending */
	for (int i = 0; i < 7; i++) {
		snprintf(dev, sizeof(dev), "iscsi://192.0.2.1/iqn.x:t%d/1", i);
		table_acquire(f->t, &w, &c, dev, SGPR_TYPE_WERO, false, 0);
	}
	table_acquire(f->t, &w, &c, "iscsi://192.0.2.1/iqn.x:t0/1", SGPR_TYPE_WERO, false, 0);
	assert_int_equal(f->replies, 0);
	assert_int_equal(f->n_jobs, 7);
	table_acquire(f->t, &w, &c, "iscsi://192.0.2.1/iqn.x:t9/1", SGPR_TYPE_WERO, false, 0);
	assert_int_equal(f->replies, 1);
	assert_string_equal(f->last.error, "busy");
	assert_non_null(strstr(f->last.message, "uid 1002"));
	assert_int_equal(f->n_jobs, 7);

	/* another uid and root are not bounded by uid 1002's acquires */
	c.uid = 1003;
	table_acquire(f->t, &w, &c, "iscsi://192.0.2.1/iqn.x:u/1", SGPR_TYPE_WERO, false, 0);
	for (int i = 0; i < 20; i++) {
		snprintf(dev, sizeof(dev), "iscsi://192.0.2.1/iqn.x:r%d/1", i);
		table_acquire(f->t, &w, &root, dev, SGPR_TYPE_WERO, false, 0);
	}
	assert_int_equal(f->replies, 1);
	assert_int_equal(f->n_jobs, 28);
	fake_free(f); /* frees the queued request and its copy of the groups */
}

/* The owner's credentials reach ops->dev_open; its refusal is 'denied' for a /dev path. */
static void test_dev_open_gets_owner(void **s)
{
	struct fake *f = fake_new(NULL);
	gid_t groups[] = {6, 1002};
	struct table_cred c = {
		.uid = 1002, .gid = 1002, .groups = groups, .n_groups = 2, .groups_known = true};
	int w;

	(void)s;
	table_acquire(f->t, &w, &c, "/dev/sdz", SGPR_TYPE_WERO, false, 0);
	groups[0] = 99; /* the table kept its own copy */
	assert_int_equal(f->n_jobs, 1);
	table_job_run(f->jobs[0]);
	table_job_done(f->t, f->jobs[0]);
	assert_int_equal(f->opens, 1);
	assert_int_equal(f->open_uid, 1002);
	assert_int_equal(f->open_n_groups, 2);
	assert_int_equal(f->open_group0, 6);
	assert_int_equal(f->replies, 1);
	assert_string_equal(f->last.error, "denied");
	assert_non_null(strstr(f->last.message, "not found or not permitted for uid 1002"));
	assert_int_equal(table_count(f->t), 0);
	fake_free(f);
}

/* A lease protecting 2000 processes: a state file line of ~20 KB, kept whole both ways. */
static void test_state_long_line(void **s)
{
	size_t cap = 64 * 1024, off;
	char *text = malloc(cap);
	struct fake *f, *g;
	struct table_info i;

	(void)s;
	assert_non_null(text);
	off = (size_t)snprintf(text, cap,
			       DEV " write-exclusive-reg-only key=0x0001000100000007 confirmed=900 "
				   "owner=1001");
	for (int k = 0; k < 2000; k++)
		off += (size_t)snprintf(text + off, cap - off, " %d:%d", 100000 + k,
					1234567890 + k);
	snprintf(text + off, cap - off, "\n");
	assert_true(off > 16384);
	f = fake_new(text);
	table_info(f->t, 0, &i);
	assert_int_equal(i.n_procs, 2000);
	assert_int_equal(i.procs[1999].pid, 101999);
	assert_int_equal(i.procs[1999].start, 1234569889ULL);
	/* 2000 live processes of uid 1001: over its bound (TABLE_PROCS_PER_UID), not root's */
	assert_int_equal(table_protect(f->t, DEV, 1001, &(struct protected_proc){7, 7}), -EDQUOT);
	assert_int_equal(table_protect(f->t, DEV, 0, &(struct protected_proc){7, 7}), 0);
	assert_non_null(f->state);
	assert_non_null(strstr(f->state, " owner=1001 "));
	assert_non_null(strstr(f->state, " 101999:1234569889 7:7\n"));

	g = fake_new(f->state); /* the next prlockd */
	table_info(g->t, 0, &i);
	assert_int_equal(i.n_procs, 2001);
	assert_int_equal(i.owner, 1001);
	fake_free(g);
	fake_free(f);
	free(text);
}

/* The pool's shares (share.h), default 4 workers: one uid's flood leaves root and others room. */
static void test_share_per_uid(void **s)
{
	struct share *sh = share_new(4);

	(void)s;
	assert_non_null(sh);
	assert_int_equal(share_acquire_max(sh), 3);
	assert_int_equal(share_others_max(sh), 3);
	assert_int_equal(share_uid_max(sh), 2);
	assert_int_equal(share_uid_acquire_max(sh), 1);
	/* uid 1001 floods acquires: one runs, the next waits */
	assert_true(share_may_start(sh, 1001, true));
	share_start(sh, 1001, true);
	assert_false(share_may_start(sh, 1001, true));
	/* its renewals still run, up to workers - 2 jobs in all */
	assert_true(share_may_start(sh, 1001, false));
	share_start(sh, 1001, false);
	assert_false(share_may_start(sh, 1001, false));
	/* another member's acquire and root's acquire get a thread */
	assert_true(share_may_start(sh, 1002, true));
	assert_true(share_may_start(sh, 0, true));
	share_start(sh, 1002, true);
	/* the non-root share is full (3): root alone now */
	assert_false(share_may_start(sh, 1003, false));
	assert_true(share_may_start(sh, 0, false));
	/* the acquire lane is full (2 + root's 1): renewals only */
	share_start(sh, 0, true);
	assert_false(share_may_start(sh, 0, true));
	assert_true(share_may_start(sh, 0, false));
	/* ends give the slots back, per uid */
	share_end(sh, 1001, true);
	assert_true(share_may_start(sh, 1001, true));
	assert_false(share_may_start(sh, 1002, true)); /* its one acquire runs */
	share_end(sh, 0, true);
	share_end(sh, 1002, true);
	share_end(sh, 1001, false);
	for (uid_t u = 1001; u < 1004; u++)
		share_start(sh, u, false); /* three members, one renewal each */
	assert_false(share_may_start(sh, 1004, false));
	assert_true(share_may_start(sh, 0, true));
	for (uid_t u = 1001; u < 1004; u++)
		share_end(sh, u, false);
	assert_true(share_may_start(sh, 1001, true));
	share_free(sh);
}

/* Small pools: every bound is at least 1; root's thread is kept from 2 workers on. */
static void test_share_small(void **s)
{
	struct share *one = share_new(1), *two = share_new(2), *many = share_new(16);

	(void)s;
	assert_int_equal(share_acquire_max(one), 1);
	assert_int_equal(share_uid_max(one), 1);
	assert_int_equal(share_uid_acquire_max(one), 1);
	assert_int_equal(share_acquire_max(two), 1);
	assert_int_equal(share_others_max(two), 1);
	share_start(two, 1001, false);
	assert_false(share_may_start(two, 1002, false));
	assert_true(share_may_start(two, 0, false));
	share_end(two, 1001, false);
	assert_int_equal(share_uid_max(many), 14);
	assert_int_equal(share_uid_acquire_max(many), 7);
	for (int i = 0; i < 7; i++)
		share_start(many, 1001, true);
	assert_false(share_may_start(many, 1001, true));
	assert_true(share_may_start(many, 1002, true));
	share_free(one);
	share_free(two);
	share_free(many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_owner),
		cmocka_unit_test(test_release_owner_only),
		cmocka_unit_test(test_protect_owner_only),
		cmocka_unit_test(test_acquire_other_uids_lease),
		cmocka_unit_test(test_acquire_bound_per_uid),
		cmocka_unit_test(test_dev_open_gets_owner),
		cmocka_unit_test(test_state_long_line),
		cmocka_unit_test(test_share_per_uid),
		cmocka_unit_test(test_share_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
