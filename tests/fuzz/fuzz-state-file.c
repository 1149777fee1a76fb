/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: prlockd's state file (src/prlockd/table-state.c), read at every start from
 * STATE_DIR/leases. The real lease table with side-effect-free ops: the input is loaded, the
 * table's own file is formatted, loaded into a second table and formatted again; both texts
 * must be equal (what prlockd writes, it reads back unchanged).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t now_ms(void *userdata)
{
	(void)userdata;
	return 1000000;
}

static const struct sgpr_clock clock = {.now_ms = now_ms};

static void submit(void *userdata, struct table_job *job)
{
	(void)userdata;
	(void)job;
}

static void reply(void *userdata, void *waiter, const struct table_reply *rp)
{
	(void)userdata;
	(void)waiter;
	(void)rp;
}

static int dev_open(void *userdata, const char *dev, const struct table_cred *owner,
		    struct sgpr_dev **ret)
{
	(void)userdata;
	(void)dev;
	(void)owner;
	(void)ret;
	return -ENODEV;
}

/* deterministic: a process is alive or not by its pid and start time alone */
static bool proc_alive(void *userdata, const struct protected_proc *p)
{
	(void)userdata;
	return (p->pid + p->start) % 3 != 0;
}

static int proc_signal(void *userdata, const struct protected_proc *p, int sig)
{
	(void)userdata;
	(void)p;
	(void)sig;
	return 0;
}

static void log_msg(void *userdata, int prio, const char *msg)
{
	(void)userdata;
	(void)prio;
	assert(msg && strlen(msg) < 1u << 20);
}

static const struct table_ops ops = {
	.submit = submit,
	.reply = reply,
	.dev_open = dev_open,
	.proc_alive = proc_alive,
	.proc_signal = proc_signal,
	.log = log_msg,
};

static const struct table_config cfg = {
	.clock = &clock,
	.host_id = 7,
	.period_ms = 2000,
	.dead_after_ms = 8000,
	.kill_grace_ms = 5000,
};

/* load text into a new table and format it: 0 and the text, or the load's error */
static int load_format(const char *text, char **ret, size_t *ret_len)
{
	struct table *t;
	int r;

	assert(table_new(&cfg, &ops, NULL, &t) == 0);
	r = table_state_load(t, text, "fuzz");
	assert(r == 0 || r == -ENOMEM);
	if (r == 0) {
		assert(table_count(t) == table_count_held(t));
		r = table_state_format(t, ret, ret_len);
		assert(r == 0 || r == -ENOMEM);
	}
	table_free(t);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *f1 = NULL, *f2 = NULL;
	size_t l1 = 0, l2 = 0;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (load_format(text, &f1, &l1) == 0 && load_format(f1, &f2, &l2) == 0) {
		assert(l1 == strlen(f1) && l2 == strlen(f2));
		assert(l1 == l2 && memcmp(f1, f2, l1) == 0);
	}
	free(f2);
	free(f1);
	free(text);
	return 0;
}
