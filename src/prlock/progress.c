/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One status line on stderr while a verb waits (acquire --wait, preempt --if-dead): rewritten in
 * place with \r, erased when the wait ends. Only on a terminal and without --json: scripts and
 * logs see nothing of it.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "prlock.h"

/* The line on the terminal now, if any (the verbs that wait are single-threaded). */
static struct progress *on_screen;
static struct sigaction old_int, old_term;

/* Ctrl-C during a wait: erase the line, then die of the signal as before. */
static void on_signal(int sig)
{
	static const char erase[] = "\r\033[K";

	(void)!write(STDERR_FILENO, erase, sizeof(erase) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Only a signal that would kill us anyway: an ignored one stays ignored. */
static void catch_signal(int sig, struct sigaction *old)
{
	struct sigaction sa = {.sa_handler = on_signal};

	if (sigaction(sig, NULL, old) == 0 && old->sa_handler == SIG_DFL)
		sigaction(sig, &sa, NULL);
}

void progress_init(struct progress *pr, const struct prlock *p, const char *dev)
{
	*pr = (struct progress){.on = !p->json && isatty(STDERR_FILENO), .dev = dev};
}

void progress_show(struct progress *pr, const char *fmt, ...)
{
	struct winsize ws = {};
	char rest[256], line[512];
	size_t width;
	va_list ap;

	if (!pr->on)
		return;
	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "prlock: %s: %s", pr->dev, rest);
	/* A line wider than the terminal wraps, and \r would only rewrite its last row. */
	width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1u
									    : sizeof(line) - 1;
	if (strlen(line) > width) {
		/* a long DEV goes first: the user named it on the command line */
		snprintf(line, sizeof(line), "prlock: %s", rest);
		if (strlen(line) > width)
			line[width] = 0;
	}
	if (!on_screen) {
		catch_signal(SIGINT, &old_int);
		catch_signal(SIGTERM, &old_term);
	}
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	pr->shown = true;
	on_screen = pr;
}

void progress_clear(struct progress *pr)
{
	if (!pr->shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pr->shown = false;
	if (on_screen) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	on_screen = NULL;
}

void progress_clear_any(void)
{
	if (on_screen)
		progress_clear(on_screen);
}

void progress_holder(struct progress *pr, uint64_t holder, uint64_t now_ms)
{
	if (holder == pr->holder)
		return;
	if (pr->holder && holder)
		pr->changes++;
	pr->holder = holder;
	pr->changed_ms = now_ms;
}
