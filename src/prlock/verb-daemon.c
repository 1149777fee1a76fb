/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The prlock side of prlockd's control socket (docs/prlockd.md): acquire hands leases to
 * the daemon, release gives them back, leases and protect talk to it directly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-read.h"
#include "prlock.h"
#include "unix-connect.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *control_path(const struct prlock *p)
{
	return p->control ?: PRLOCKD_CONTROL_DEFAULT;
}

static int connect_daemon(const struct prlock *p, int *ret_fd)
{
	int fd = unix_connect(control_path(p));

	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

static bool not_running(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR;
}

/* While call_ticking() waits for its reply: called every TICK_MS (progress display). */
typedef void (*tick_fn)(void *userdata);
#define TICK_MS 250

/*
 * One request line, one reply line. timeout_ms < 0: no bound (acquire --wait without one).
 * Returns 0 with the parsed reply, or -errno (connect errors as they are).
 */
static int call_ticking(const struct prlock *p, const char *request, int timeout_ms, struct jv *ret,
			char **ret_line, tick_fn tick, void *userdata)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = timeout_ms >= 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	size_t n = strlen(request);
	int r, send_r = 0;

	r = connect_daemon(p, &fd);
	if (r < 0)
		return r;
	if (send(fd, request, n, MSG_NOSIGNAL) != (ssize_t)n ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1)
		send_r = -errno;
	/* even when sending failed, the daemon may have answered (a refused peer): read it */
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait = -1;
		ssize_t got;

		if (deadline) {
			uint64_t now = now_ms();

			if (now >= deadline)
				return -ETIMEDOUT;
			wait = (int)(deadline - now);
		}
		if (tick && (wait < 0 || wait > TICK_MS))
			wait = TICK_MS;
		r = poll(&pfd, 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			if (tick)
				tick(userdata);
			continue;
		}
		if (len + 512 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return send_r < 0 ? send_r : -ECONNRESET; /* closed without a reply line */
		len += (size_t)got;
		buf[len] = 0;
		if (memchr(buf, '\n', len))
			break;
		if (len > 16 << 20)
			return -EMSGSIZE;
	}
	*strchr(buf, '\n') = 0;
	r = jv_parse(buf, ret);
	if (r < 0)
		return r;
	if (ret_line)
		*ret_line = TAKE_PTR(buf);
	return 0;
}

static int call(const struct prlock *p, const char *request, int timeout_ms, struct jv *ret,
		char **ret_line)
{
	return call_ticking(p, request, timeout_ms, ret, ret_line, NULL, NULL);
}

/* After a failed call(): print why and return the exit code. */
static int call_failed(const struct prlock *p, int r)
{
	const char *path = control_path(p);

	if (not_running(r)) {
		fprintf(stderr,
			"prlock: prlockd is not running (control socket %s): start it, or use "
			"--static for a one-shot reservation\n",
			path);
		return EXIT_UNREACHABLE;
	}
	if (r == -EACCES || r == -EPERM) {
		fprintf(stderr,
			"prlock: cannot connect to prlockd (control socket %s): permission denied "
			"(root or the configured group only)\n",
			path);
		return EXIT_RUNTIME;
	}
	if (r == -ECONNRESET)
		fprintf(stderr, "prlock: prlockd closed the connection without an answer (%s)\n",
			path);
	else if (r == -EBADMSG)
		fprintf(stderr, "prlock: malformed answer from prlockd (%s)\n", path);
	else
		fprintf(stderr, "prlock: talking to prlockd (%s): %s\n", path, strerror(-r));
	return EXIT_RUNTIME;
}

/* {"ok": false, ...}: print the daemon's message and return the exit code. */
static int reply_failed(const struct jv *v)
{
	const char *msg = jv_str(v, "message");

	fprintf(stderr, "prlock: %s\n", msg ?: "prlockd refused without a message");
	return exit_code_from_word(jv_str(v, "error"));
}

static uint64_t key_of(const struct jv *v, const char *name)
{
	const char *s = jv_str(v, name);
	uint64_t k = 0;

	return s && sgpr_key_parse(s, &k) == 0 ? k : 0;
}

static int release_via(struct prlock *p, const char *dev, bool quiet_not_held);

/* acquire --wait on a terminal: prlockd's status of the waiting lease, polled twice a second. */
struct wait_view {
	struct prlock *p;
	struct progress pr;
	uint64_t deadline, next_status; /* 0: no bound */
	unsigned dead_after_ms;
	bool waiting; /* prlockd reported the lease as waiting */
};

static void wait_tick(void *userdata)
{
	struct wait_view *w = userdata;
	char label[64], k[SGPR_KEY_STRLEN], left[48] = "no time bound";
	uint64_t now = now_ms();

	if (now >= w->next_status) {
		const struct jv *leases;
		struct jv v = {};

		w->next_status = now + 500;
		if (call(w->p, "status", 2000, &v, NULL) == 0) {
			leases = jv_get(&v, "leases");
			w->dead_after_ms = (unsigned)atol(jv_str(&v, "dead_after_ms") ?: "0");
			for (size_t i = 0; leases && leases->t == JV_ARRAY && i < leases->n; i++) {
				const struct jv *e = &leases->items[i];
				const char *state = jv_str(e, "state");

				if (strcmp(jv_str(e, "device") ?: "", w->pr.dev) ||
				    strcmp(state ?: "", "waiting"))
					continue;
				w->waiting = true;
				progress_holder(&w->pr, key_of(e, "holder"), now_ms());
			}
			jv_clear(&v);
		}
		now = now_ms();
	}
	if (w->deadline)
		snprintf(left, sizeof(left), "%.1f s left",
			 w->deadline > now ? (double)(w->deadline - now) / 1000 : 0.0);
	if (w->waiting && w->pr.holder) {
		uint64_t dead_at = w->pr.changed_ms + w->dead_after_ms;

		progress_show(&w->pr,
			      "prlockd waits: holder %s key %s, %u change%s seen; takeover in "
			      "%.1f s if unchanged; %s",
			      owner_label(w->p, w->pr.holder, label, sizeof(label)),
			      sgpr_key_format(w->pr.holder, k), w->pr.changes,
			      w->pr.changes == 1 ? "" : "s",
			      dead_at > now ? (double)(dead_at - now) / 1000 : 0.0, left);
	} else {
		progress_show(&w->pr, "prlockd waits for the lease; %s", left);
	}
}

int acquire_via_daemon(struct prlock *p, int ndev, char **devs)
{
	_cleanup_free_ bool *taken = calloc((size_t)ndev, sizeof(bool));
	uint64_t deadline = p->wait_ms ? now_ms() + p->wait_ms : 0;
	int ret = 0, i;

	if (!taken)
		return fail(-ENOMEM, devs[0], "acquire", NULL);
	results_begin(p);
	for (i = 0; i < ndev; i++) {
		char req[8192], msg[384], label[64], k[SGPR_KEY_STRLEN], vk[SGPR_KEY_STRLEN];
		const char *event, *waited;
		struct jv v = {};
		int timeout = 120000, r;
		uint64_t key, victim;

		if (strchr(devs[i], ' ') || strchr(devs[i], '\n')) {
			ret = usage_error(
				"%s: a device name with blanks cannot be handed to prlockd",
				devs[i]);
			break;
		}
		r = snprintf(req, sizeof(req), "acquire %s", devs[i]);
		if (p->type_set)
			r += snprintf(req + r, sizeof(req) - (size_t)r, " %s",
				      sgpr_type_to_name(p->cfg.type));
		if (p->wait) {
			uint64_t now = now_ms();
			unsigned left =
				deadline ? (deadline > now ? (unsigned)(deadline - now) : 1) : 0;

			if (deadline)
				r += snprintf(req + r, sizeof(req) - (size_t)r, " --wait %u.%03u",
					      left / 1000, left % 1000);
			else
				r += snprintf(req + r, sizeof(req) - (size_t)r, " --wait forever");
			timeout = deadline ? (int)left + 120000 : -1;
		}
		if (r >= (int)sizeof(req)) {
			ret = usage_error("%s: device name too long", devs[i]);
			break;
		}
		if (p->wait) {
			struct wait_view w = {.p = p, .deadline = deadline};

			progress_init(&w.pr, p, devs[i]);
			r = call_ticking(p, req, timeout, &v, NULL, w.pr.on ? wait_tick : NULL, &w);
			progress_clear(&w.pr);
		} else {
			r = call(p, req, timeout, &v, NULL);
		}
		if (r < 0) {
			ret = call_failed(p, r);
			break;
		}
		if (!jv_bool(&v, "ok")) {
			ret = reply_failed(&v);
			jv_clear(&v);
			result_device(p, devs[i], ret, NULL);
			break;
		}
		event = jv_str(&v, "event") ?: "acquired";
		key = key_of(&v, "key");
		victim = key_of(&v, "victim");
		waited = jv_str(&v, "waited_ms");
		taken[i] = strcmp(event, "acquired") == 0 || strcmp(event, "taken-over") == 0;
		if (strcmp(event, "taken-over") == 0)
			snprintf(
				msg, sizeof(msg),
				"taken over from %s (key %s, dead by the lease rule) after %.1f s; "
				"held by prlockd with key %s",
				owner_label(p, victim, label, sizeof(label)),
				sgpr_key_format(victim, vk), waited ? atof(waited) / 1000 : 0.0,
				sgpr_key_format(key, k));
		else
			snprintf(msg, sizeof(msg), "%s by prlockd with key %s (host %s, %s)",
				 strcmp(event, "acquired") == 0 ? "acquired" : "already held",
				 sgpr_key_format(key, k), jv_str(&v, "host_id") ?: "?",
				 jv_str(&v, "type") ?: "?");
		result_device(
			p, devs[i], 0,
			&(struct result){.action = event,
					 .message = msg,
					 .key = key,
					 .type = sgpr_type_from_name(jv_str(&v, "type") ?: ""),
					 .victim = victim});
		jv_clear(&v);
	}
	/* All or nothing: give back what this call took when one device failed. */
	if (ret)
		for (int k = 0; k < i; k++)
			if (taken[k] && release_via(p, devs[k], true) == 0)
				fprintf(stderr, "prlock: %s: released again, since %s failed\n",
					devs[k], devs[i]);
	return results_end(p, ret);
}

/*
 * Returns 0 released, -1 not held by prlockd (or not running), else an exit code: a refusal
 * (denied, busy: EXIT_RUNTIME, which is 1) must not fall back to the one-shot release.
 */
static int release_via(struct prlock *p, const char *dev, bool quiet_not_held)
{
	char req[8192];
	struct jv v = {};
	const char *err;
	int r;

	if (strchr(dev, ' ') || strchr(dev, '\n') ||
	    snprintf(req, sizeof(req), "release %s", dev) >= (int)sizeof(req))
		return -1;
	r = call(p, req, 120000, &v, NULL);
	if (r < 0)
		return not_running(r) ? -1 : call_failed(p, r);
	if (jv_bool(&v, "ok")) {
		jv_clear(&v);
		return 0;
	}
	err = jv_str(&v, "error");
	if (err && strcmp(err, "not-held") == 0) {
		jv_clear(&v);
		return -1;
	}
	r = quiet_not_held ? EXIT_RUNTIME : reply_failed(&v);
	jv_clear(&v);
	return r;
}

int release_via_daemon(struct prlock *p, const char *dev)
{
	return release_via(p, dev, false);
}

int verb_protect(struct prlock *p, int ndev, char **devs)
{
	char req[8192], msg[256];
	struct jv v = {};
	unsigned pid;
	int r;

	if (parse_uint(devs[1], 1, 0x7fffffff, &pid) < 0)
		return usage_error("protect: '%s' is not a process id", devs[1]);
	if (strchr(devs[0], ' ') ||
	    snprintf(req, sizeof(req), "protect %s %u", devs[0], pid) >= (int)sizeof(req))
		return usage_error("protect: bad device name '%s'", devs[0]);
	r = call(p, req, 120000, &v, NULL);
	if (r < 0)
		return call_failed(p, r);
	results_begin(p);
	if (!jv_bool(&v, "ok")) {
		r = reply_failed(&v);
		result_device(p, devs[0], r, NULL);
	} else {
		snprintf(msg, sizeof(msg),
			 "process %u protected: prlockd stops it if the lease "
			 "is lost",
			 pid);
		result_device(p, devs[0], 0,
			      &(struct result){.action = "protected", .message = msg});
	}
	jv_clear(&v);
	return results_end(p, r);
}

int verb_leases(struct prlock *p, int ndev, char **devs)
{
	_cleanup_free_ char *line = NULL;
	const struct jv *leases;
	struct jv v = {};
	int r;

	r = call(p, "status", 120000, &v, &line);
	if (r < 0)
		return call_failed(p, r);
	if (!jv_bool(&v, "ok")) {
		r = reply_failed(&v);
		jv_clear(&v);
		return r;
	}
	if (p->json) {
		/* the daemon's reply is the JSON output: version 1, leases[] (docs/prlockd.md) */
		puts(line);
		jv_clear(&v);
		return 0;
	}
	leases = jv_get(&v, "leases");
	printf("%-50s %-9s %-6s %-18s %-18s %-9s %s\n", "DEVICE", "STATE", "OWNER", "KEY", "HOLDER",
	       "RENEWED", "PROTECTED");
	for (size_t i = 0; leases && leases->t == JV_ARRAY && i < leases->n; i++) {
		const struct jv *e = &leases->items[i], *procs = jv_get(e, "protected");
		const char *ago = jv_str(e, "last_renewal_ms_ago");
		char renewed[32] = "-", pids[256] = "";
		size_t off = 0;

		if (ago)
			snprintf(renewed, sizeof(renewed), "%.1fs ago", atof(ago) / 1000);
		for (size_t k = 0; procs && procs->t == JV_ARRAY && k < procs->n; k++)
			if (procs->items[k].t == JV_NUMBER && off < sizeof(pids) - 16)
				off += (size_t)snprintf(pids + off, sizeof(pids) - off, "%s%s",
							k ? "," : "", procs->items[k].s);
		printf("%-50s %-9s %-6s %-18s %-18s %-9s %s\n", jv_str(e, "device") ?: "?",
		       jv_str(e, "state") ?: "?", jv_str(e, "owner") ?: "-",
		       jv_str(e, "key") ?: "-", jv_str(e, "holder") ?: "-", renewed,
		       off ? pids : "-");
	}
	jv_clear(&v);
	return 0;
}
