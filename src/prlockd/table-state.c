/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease table's state file (STATE_DIR/leases): one device per line,
 * "DEV TYPE key=KEY confirmed=MS owner=UID [PID:STARTTIME]...", for the devices this host
 * holds (or still has to re-adopt) and their protected processes. Lines have no length
 * bound (a lease may protect thousands of processes). UID is the lease's owner (a file
 * without it: root). KEY is the key held, MS the table
 * clock's time (CLOCK_BOOTTIME) its last renewal was confirmed: a restart adopts only that key
 * (or its later renewals), and a recorded lease whose key is gone is lost when MS is older
 * than the recovery window. Then one line "kill DEV DEADLINE PID:STARTTIME" per pending
 * SIGKILL (DEADLINE on the same clock, which a restart of prlockd does not reset; DEV never
 * is "kill": it is a URL or a /dev path).
 *
 * Written whole through ops->state_write on every change, and at most once a period for
 * renewals; the daemon replaces the file atomically, the simulator keeps it in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "table-private.h"

int table_state_format(struct table *t, char **ret_buf, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_entries; i++) {
		struct table_entry *e = t->entries[i];

		if (e->state != ENTRY_HELD && e->state != ENTRY_ADOPTING)
			continue;
		if (e->state == ENTRY_HELD && e->l) {
			e->rec_key = e->key;
			e->rec_confirmed_ms = e->last_renewal_ms;
		}
		fprintf(f, "%s %s key=0x%016llx confirmed=%llu owner=%u", e->dev,
			sgpr_type_to_name(e->type), (unsigned long long)e->rec_key,
			(unsigned long long)e->rec_confirmed_ms, (unsigned)e->owner.uid);
		for (size_t k = 0; k < e->n_procs; k++)
			fprintf(f, " %d:%llu", (int)e->procs[k].pid, e->procs[k].start);
		fputc('\n', f);
	}
	for (size_t i = 0; i < t->n_kills; i++)
		fprintf(f, "kill %s %llu %d:%llu\n", t->kills[i].dev,
			(unsigned long long)t->kills[i].kill_at, (int)t->kills[i].proc.pid,
			t->kills[i].proc.start);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int table_state_save(struct table *t)
{
	char *buf;
	size_t len;
	int r;

	r = table_state_format(t, &buf, &len);
	if (r < 0) {
		tlog(t, LOG_ERR, "Failed to format the state file: %s", strerror(-r));
		return r;
	}
	r = t->ops.state_write ? t->ops.state_write(t->userdata, buf, len) : 0;
	free(buf);
	if (r >= 0)
		t->state_saved_ms = table_now(t); /* a failure was logged by ops->state_write */
	return r;
}

/* "kill DEV DEADLINE PID:STARTTIME": a SIGKILL still due */
static int parse_kill_line(struct table *t, char *rest, const char *name, unsigned lineno)
{
	char *save = NULL, *dev, *deadline, *proc, *end;
	struct protected_proc p;
	unsigned long long at;
	int pid;

	dev = strtok_r(rest, " \t\n", &save);
	deadline = dev ? strtok_r(NULL, " \t\n", &save) : NULL;
	proc = deadline ? strtok_r(NULL, " \t\n", &save) : NULL;
	if (!proc || sscanf(proc, "%d:%llu", &pid, &p.start) != 2 || pid <= 1) {
		tlog(t, LOG_WARNING, "%s:%u: malformed pending kill, ignoring", name, lineno);
		return 0;
	}
	errno = 0;
	at = strtoull(deadline, &end, 10);
	if (errno || *end) {
		tlog(t, LOG_WARNING, "%s:%u: malformed pending kill deadline '%s', ignoring", name,
		     lineno, deadline);
		return 0;
	}
	p.pid = pid;
	if (!table_proc_alive(t, &p))
		return 0; /* gone meanwhile */
	tlog(t, LOG_NOTICE, "%s: lost lease's protected process %d still runs; SIGKILL %s", dev,
	     pid, at <= table_now(t) ? "now" : "when its kill_grace ends");
	return kill_add(t, dev, &p, at);
}

static int parse_state_line(struct table *t, char *line, const char *name, unsigned lineno)
{
	char *save = NULL, *dev, *type, *tok;
	struct table_entry *e;
	int ty, r;

	dev = strtok_r(line, " \t\n", &save);
	if (!dev)
		return 0;
	if (strcmp(dev, "kill") == 0)
		return parse_kill_line(t, save, name, lineno);
	type = strtok_r(NULL, " \t\n", &save);
	ty = type ? sgpr_type_from_name(type) : -EINVAL;
	if (ty < 0) {
		tlog(t, LOG_WARNING, "%s:%u: no reservation type for %s, ignoring", name, lineno,
		     dev);
		return 0;
	}
	if (entry_find(t, dev))
		return 0;
	r = entry_add(t, dev, ty, &(struct table_cred){}, &e);
	if (r < 0)
		return r;
	e->state = ENTRY_ADOPTING;
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		struct protected_proc p;
		unsigned long long v;
		unsigned u;
		int pid;
		char c;

		if (sscanf(tok, "owner=%u%c", &u, &c) == 1) {
			e->owner.uid = u; /* its groups are looked up when the device is opened */
			continue;
		}
		if (sscanf(tok, "key=%llx", &v) == 1) {
			e->rec_key = v;
			continue;
		}
		if (sscanf(tok, "confirmed=%llu", &v) == 1) {
			e->rec_confirmed_ms = v;
			continue;
		}
		if (sscanf(tok, "%d:%llu", &pid, &p.start) != 2 || pid <= 1) {
			tlog(t, LOG_WARNING, "%s:%u: '%s' is not PID:STARTTIME, ignoring", name,
			     lineno, tok);
			continue;
		}
		p.pid = pid;
		if (!table_proc_alive(t, &p)) {
			tlog(t, LOG_INFO, "%s: protected process %d is gone", dev, pid);
			continue;
		}
		if (proc_add(e, &p) < 0)
			return -ENOMEM;
	}
	return 0;
}

int table_state_load(struct table *t, const char *text, const char *name)
{
	char *copy = strdup(text), *line, *next;
	unsigned lineno = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (line = copy; line && *line && r >= 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		r = parse_state_line(t, line, name, lineno);
	}
	free(copy);
	if (r < 0)
		tlog(t, LOG_ERR, "Failed to load %s: %s", name, strerror(-r));
	return r < 0 ? r : 0;
}
