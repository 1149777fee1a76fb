/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sgpr-io: hold one I_T nexus and drive it from stdin, one command a line.
 * On tgt a registration belongs to the session that made it, so a write that
 * must count as a host's write has to travel on that host's session: this is
 * the "protected workload" of the demo and the integration tests.
 *
 *   register | unregister | reserve [TYPE] | release [TYPE] | keys | res
 *   write LBA TEXT | read LBA | tur | stats | sleep MS | quit
 *   lease | lease-status | lease-renew | lease-release
 *
 * "lease" holds a lease (lease.c) on the session: it is renewed every lease
 * period while sgpr-io waits for its next command, so stopping the process
 * (SIGSTOP) stops the renewals as a hung host would.
 *
 * Every command answers one line: "ok [detail]" or "err <kind>: <words>", kind being the
 * error word of src/shared/errors.c (conflict, unsupported, unreachable, usage, error) and
 * words the target's status or the errno's phrase.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "errors.h"
#include "sgpr.h"

#define BLOCK 512

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

static void answer(int r, const struct sgpr_status *st, const char *detail)
{
	char buf[160];

	if (r == 0) {
		printf("ok%s%s\n", detail ? " " : "", detail ? detail : "");
	} else {
		if (st && st->answered && st->status != SGPR_STATUS_GOOD)
			printf("err %s: %s\n", error_word(r),
			       sgpr_status_describe(st, buf, sizeof(buf)));
		else
			printf("err %s: %s\n", error_word(r), errno_words(r));
	}
	fflush(stdout);
}

/* WRITE(16) / READ(16), SBC-3 5.34 / 5.16: one block at lba. */
static int rw16(struct sgpr_dev *d, bool write, uint64_t lba, uint8_t *block,
		struct sgpr_status *st)
{
	uint8_t cdb[16] = {write ? 0x8a : 0x88};

	for (int i = 0; i < 8; i++)
		cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
	cdb[13] = 1; /* transfer length: one block */
	return sgpr_dev_execute(d, cdb, sizeof(cdb), write ? SGPR_DIR_OUT : SGPR_DIR_IN, block,
				BLOCK, st);
}

static int cmd_keys(struct sgpr_dev *d, struct sgpr_status *st, char *out, size_t len)
{
	_cleanup_free_ struct sgpr_keys *keys = NULL;
	size_t n;
	int r = sgpr_read_keys(d, &keys, st);

	if (r < 0)
		return r;
	n = (size_t)snprintf(out, len, "generation=%u", keys->generation);
	for (uint32_t i = 0; i < keys->count && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, " 0x%016" PRIx64, keys->keys[i]);
	return 0;
}

struct io {
	struct sgpr_dev *d;
	uint64_t key; /* the static key of register/reserve/release */
	int type;
	struct sgpr_lease_opts lease_opts;
	struct sgpr_lease *lease;
	uint64_t next_renew_ms;
	enum sgpr_lease_event last_event;
	unsigned renewals;
	char buf[4096]; /* stdin, not yet split into lines */
	size_t have;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int lease_renew_now(struct io *io)
{
	enum sgpr_lease_event ev;
	int r = sgpr_lease_renew(io->lease, &ev);

	io->next_renew_ms = mono_ms() + io->lease_opts.period_ms;
	if (r == 0) {
		io->last_event = ev;
		io->renewals++;
	}
	return r;
}

/* Read one command line; renew a held lease whenever it is due while waiting. */
static bool read_line(struct io *io, char *line, size_t len)
{
	for (;;) {
		char *nl = memchr(io->buf, '\n', io->have);
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		bool held = io->lease && sgpr_lease_get_state(io->lease) == SGPR_LEASE_HELD;
		int timeout = -1;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - io->buf);

			snprintf(line, len, "%.*s", (int)l, io->buf);
			io->have -= l + 1;
			memmove(io->buf, nl + 1, io->have);
			return true;
		}
		if (io->have == sizeof(io->buf))
			io->have = 0; /* an overlong line is dropped */
		if (held) {
			uint64_t now = mono_ms();

			timeout = io->next_renew_ms > now ? (int)(io->next_renew_ms - now) : 0;
		}
		if (poll(&pfd, 1, timeout) == 0) {
			(void)lease_renew_now(io);
			continue;
		}
		n = read(STDIN_FILENO, io->buf + io->have, sizeof(io->buf) - io->have);
		if (n <= 0)
			return false;
		io->have += (size_t)n;
	}
}

static int cmd_lease(struct io *io, const char *cmd, char *out, size_t len)
{
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	int r = 0;

	if (!io->lease) {
		r = sgpr_lease_new(io->d, &io->lease_opts, &io->lease);
		if (r < 0)
			return r;
	}
	if (strcmp(cmd, "lease") == 0) {
		r = sgpr_lease_acquire(io->lease, &ev);
		if (r == 0) {
			io->last_event = ev;
			io->next_renew_ms = mono_ms() + io->lease_opts.period_ms;
		}
	} else if (strcmp(cmd, "lease-renew") == 0) {
		/* a renewal may already have run while waiting for this command */
		if (sgpr_lease_get_state(io->lease) == SGPR_LEASE_HELD)
			r = lease_renew_now(io);
	} else if (strcmp(cmd, "lease-release") == 0) {
		r = sgpr_lease_release(io->lease);
	}
	if (r == 0) {
		static const char *const states[] = {"idle", "held", "lost"};

		snprintf(out, len, "state=%s event=%s key=0x%016" PRIx64 " renewals=%u",
			 states[sgpr_lease_get_state(io->lease)],
			 sgpr_lease_event_name(io->last_event), sgpr_lease_key(io->lease),
			 io->renewals);
	}
	return r;
}

static int run(struct io *io)
{
	struct sgpr_dev *d = io->d;
	uint64_t key = io->key;
	int deftype = io->type;
	char line[1024];

	while (read_line(io, line, sizeof(line))) {
		struct sgpr_status st = {};
		char out[900] = "", *arg, *cmd;
		uint8_t block[BLOCK];
		int r, type = deftype;

		line[strcspn(line, "\r")] = 0;
		cmd = strtok_r(line, " ", &arg);
		if (!cmd)
			continue;
		if (arg && *arg && (strcmp(cmd, "reserve") == 0 || strcmp(cmd, "release") == 0)) {
			type = sgpr_type_from_name(arg);
			if (type < 0) {
				printf("err usage: unknown type '%s'\n", arg);
				fflush(stdout);
				continue;
			}
		}
		if (strcmp(cmd, "quit") == 0) {
			return 0;
		} else if (strcmp(cmd, "register") == 0) {
			r = sgpr_register(d, 0, key, true, &st);
		} else if (strcmp(cmd, "unregister") == 0) {
			r = sgpr_register(d, key, 0, false, &st);
		} else if (strcmp(cmd, "reserve") == 0) {
			r = sgpr_reserve(d, key, type, &st);
		} else if (strcmp(cmd, "release") == 0) {
			r = sgpr_release(d, key, type, &st);
		} else if (strcmp(cmd, "keys") == 0) {
			r = cmd_keys(d, &st, out, sizeof(out));
		} else if (strcmp(cmd, "res") == 0) {
			struct sgpr_reservation res;

			r = sgpr_read_reservation(d, &res, &st);
			if (r == 0)
				snprintf(out, sizeof(out),
					 "generation=%u held=%d key=0x%016" PRIx64 " type=%s",
					 res.generation, res.held, res.key,
					 res.held ? sgpr_type_to_name(res.type) : "none");
		} else if (strcmp(cmd, "stats") == 0) {
			struct sgpr_dev_stats stats;

			sgpr_dev_get_stats(d, &stats);
			snprintf(out, sizeof(out),
				 "reconnects=%u recoveries=%u unit_attentions=%u "
				 "last_ua=%02x/%02x",
				 stats.reconnects, stats.recoveries, stats.unit_attentions,
				 stats.last_ua_asc, stats.last_ua_ascq);
			r = 0;
		} else if (strcmp(cmd, "tur") == 0) {
			static const uint8_t tur[6];

			r = sgpr_dev_execute(d, tur, sizeof(tur), SGPR_DIR_NONE, NULL, 0, &st);
		} else if (strcmp(cmd, "write") == 0 || strcmp(cmd, "read") == 0) {
			bool write = cmd[0] == 'w';
			char *text = NULL, *lba_s = strtok_r(arg, " ", &text);
			char *end;
			uint64_t lba;

			if (!lba_s || (lba = strtoull(lba_s, &end, 10), *end)) {
				printf("err usage: %s LBA%s\n", cmd, write ? " TEXT" : "");
				fflush(stdout);
				continue;
			}
			memset(block, 0, sizeof(block));
			if (write)
				snprintf((char *)block, sizeof(block), "%s", text ? text : "");
			r = rw16(d, write, lba, block, &st);
			if (r == 0 && !write)
				snprintf(out, sizeof(out), "%.*s", BLOCK - 1, (char *)block);
		} else if (strncmp(cmd, "lease", 5) == 0 &&
			   (!cmd[5] || !strcmp(cmd, "lease-status") ||
			    !strcmp(cmd, "lease-renew") || !strcmp(cmd, "lease-release"))) {
			r = cmd_lease(io, cmd, out, sizeof(out));
		} else if (strcmp(cmd, "sleep") == 0) {
			usleep((useconds_t)strtoul(arg ? arg : "0", NULL, 10) * 1000);
			r = 0;
		} else {
			printf("err usage: unknown command '%s'\n", cmd);
			fflush(stdout);
			continue;
		}
		answer(r, &st, out[0] ? out : NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {{"initiator", required_argument, NULL, 'i'},
						{"host-id", required_argument, NULL, 'H'},
						{"cluster", required_argument, NULL, 'c'},
						{"type", required_argument, NULL, 't'},
						{"timeout", required_argument, NULL, 'T'},
						{"observer", no_argument, NULL, 'O'},
						{"lease-period", required_argument, NULL, 'L'},
						{"dead-after", required_argument, NULL, 'D'},
						{}};
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	const char *initiator = NULL, *cluster = SGPR_CLUSTER_DEFAULT;
	uint16_t host_id = 0;
	int o, r, type = SGPR_TYPE_WERO;
	unsigned timeout_ms = 0, period_ms = 0, dead_after_ms = 0;
	char iqn[SGPR_IQN_MAX];
	bool observer = false;
	struct io *io;

	while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (o) {
		case 'i':
			initiator = optarg;
			break;
		case 'H':
			if (parse_host_id(optarg, &host_id) < 0) {
				fprintf(stderr, "sgpr-io: --host-id '%s': expected 1..65535\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			cluster = optarg;
			break;
		case 'O':
			observer =
				true; /* the read-only ISID of prlock status (docs/SESSIONS.md) */
			break;
		case 'T':
			if (parse_uint(optarg, 100, 600000, &timeout_ms) < 0) {
				fprintf(stderr,
					"sgpr-io: --timeout '%s': expected 100..600000 ms\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'L':
		case 'D':
			if (parse_seconds(optarg, 100, 3600000,
					  o == 'L' ? &period_ms : &dead_after_ms)) {
				fprintf(stderr, "sgpr-io: '%s': expected seconds\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			type = sgpr_type_from_name(optarg);
			if (type < 0) {
				fprintf(stderr, "sgpr-io: --type '%s': unknown type\n", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !host_id) {
		fprintf(stderr, "usage: sgpr-io --host-id N [--initiator IQN] [--cluster NAME] "
				"[--type T] [--timeout MS] [--lease-period S] [--dead-after S] "
				"[--observer] DEV\n");
		return EXIT_USAGE;
	}
	if (!initiator) {
		snprintf(iqn, sizeof(iqn), "iqn.2026-11.io.sgpr:host-%u", host_id);
		initiator = iqn;
	}
	r = sgpr_dev_open(argv[optind],
			  &(struct sgpr_dev_opts){.size = sizeof(struct sgpr_dev_opts),
						  .initiator = initiator,
						  .host_id = host_id,
						  .timeout_ms = timeout_ms,
						  .connect_timeout_ms = timeout_ms,
						  .observer_isid = observer},
			  &d);
	if (r < 0) {
		fprintf(stderr, "sgpr-io: %s: cannot open: %s\n", argv[optind],
			open_error_words(argv[optind], r));
		return exit_code_from_errno(r);
	}
	io = calloc(1, sizeof(*io));
	if (!io)
		return EXIT_RUNTIME;
	io->d = d;
	io->type = type;
	io->key = sgpr_key_make(sgpr_ns_from_cluster(cluster), host_id, 0);
	io->lease_opts = (struct sgpr_lease_opts){
		.size = sizeof(struct sgpr_lease_opts),
		.ns = sgpr_ns_from_cluster(cluster),
		.host_id = host_id,
		.type = type,
		.period_ms = period_ms ? period_ms : SGPR_LEASE_PERIOD_MS_DEFAULT,
		.dead_after_ms = dead_after_ms,
	};
	printf("ready key=0x%016" PRIx64 "\n", io->key);
	fflush(stdout);
	r = run(io);
	sgpr_lease_free(io->lease);
	free(io);
	return r;
}
