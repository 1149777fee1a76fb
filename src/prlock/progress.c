/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One status line on stderr while a verb waits (acquire --wait, preempt --if-dead): rewritten in
 * place with \r, erased when the wait ends. Only on a terminal and without --json: scripts and
 * logs see nothing of it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "prlock.h"

/* The line on the terminal now, if any (the verbs that wait are single-threaded). */
static struct progress *on_screen;

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
