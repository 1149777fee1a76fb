/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prh-bench: round-trip times of pr-manager-helper servers (qemu-pr-helper, prlockd) on one
 * device, with the same client and request mix, interleaved (tools/bench-prh runs it in a guest).
 *
 *   prh-bench [--clients N] [--requests R] [--rounds K] [--key KEY] DEVICE NAME=SOCKET...
 *
 * Each of N client threads keeps one connection per server and sends requests as QEMU does (the
 * CDB with DEVICE's fd, the PR OUT list in a second write; the reply header, then the data),
 * in the mix READ KEYS, READ RESERVATION, REGISTER of KEY over KEY (a no-op for the target).
 * KEY is registered first (REGISTER AND IGNORE EXISTING KEY) and removed at the end. The R
 * requests per server (all clients together) go in K rounds, servers taking turns each round,
 * so that both see the same machine, after one unmeasured request per connection (its time,
 * the slowest of them, is first_us). Per server: p50, p99, mean and max in microseconds, and
 * the ratio of each later server to the first. Exit 1 if a request failed or got a status
 * other than GOOD.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "prh-proto.h"
#include "sgpr.h"
#include "unix-connect.h"

#define SERVERS_MAX 4
#define CLIENTS_MAX 64

struct server {
	const char *name, *path;
	double *us; /* one per request */
	unsigned n, failed;
	double first_us; /* the slowest first request of a connection (warm-up, not in us) */
	pthread_mutex_t lock;
};

struct client {
	pthread_t t;
	int socks[SERVERS_MAX];
	struct server *srv; /* this round's */
	unsigned srv_idx;
	bool warm_up;	     /* one request, timed into srv->first_us */
	unsigned count, seq; /* requests this round, position in the mix */
	int devfd;
};

static uint64_t arg_key = 0x5052424e43480001ull; /* "PRBNCH" */

static int xfer(int sock, int devfd, const uint8_t *cdb, const uint8_t *params, size_t plen,
		struct prh_reply *rep)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {};
	struct iovec iov = {.iov_base = (void *)cdb, .iov_len = PRH_CDB_SIZE};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	uint8_t hdr[PRH_REPLY_HDR_SIZE];
	size_t got;
	ssize_t k;
	int sz;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &devfd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != PRH_CDB_SIZE)
		return -EIO;
	if (plen && send(sock, params, plen, MSG_NOSIGNAL) != (ssize_t)plen)
		return -EIO;
	for (got = 0; got < sizeof(hdr); got += (size_t)k) {
		k = read(sock, hdr + got, sizeof(hdr) - got);
		if (k <= 0)
			return -ECONNRESET;
	}
	sz = prh_reply_decode_header(hdr, rep);
	if (sz < 0)
		return -EBADMSG;
	for (got = 0; got < (size_t)sz; got += (size_t)k) {
		k = read(sock, rep->data + got, (size_t)sz - got);
		if (k <= 0)
			return -ECONNRESET;
	}
	return 0;
}

/* Request i of the mix into cdb/params; the length of params. */
static size_t mix(unsigned i, uint8_t cdb[PRH_CDB_SIZE], uint8_t params[24])
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER, .key = arg_key, .sa_key = arg_key};
	uint8_t c10[16] = {0};

	memset(cdb, 0, PRH_CDB_SIZE);
	switch (i % 3) {
	case 0: /* READ KEYS, 1024 bytes */
	case 1: /* READ RESERVATION */
		cdb[0] = 0x5e;
		cdb[1] = i % 3 == 0 ? 0x00 : 0x01;
		cdb[7] = 0x04;
		return 0;
	default:
		sgpr_prout_encode(&p, c10, params, 24);
		memcpy(cdb, c10, 10);
		return 24;
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct server *s = cl->srv;
	struct prh_reply *rep = malloc(sizeof(*rep));
	uint8_t cdb[PRH_CDB_SIZE], params[24];

	if (!rep)
		return NULL;
	for (unsigned i = 0; i < cl->count; i++) {
		size_t plen = mix(cl->seq++, cdb, params);
		double t0 = now_us(), t1;
		int r;

		r = xfer(cl->socks[cl->srv_idx], cl->devfd, cdb, params, plen, rep);
		t1 = now_us();
		pthread_mutex_lock(&s->lock);
		if (r < 0 || rep->result != 0)
			s->failed++;
		else if (cl->warm_up)
			s->first_us = t1 - t0 > s->first_us ? t1 - t0 : s->first_us;
		else
			s->us[s->n++] = t1 - t0;
		pthread_mutex_unlock(&s->lock);
		if (r < 0)
			break;
	}
	free(rep);
	return NULL;
}

static int connect_to(const char *path)
{
	uint8_t feat[PRH_FEATURES_SIZE];
	int fd;

	fd = unix_connect(path);
	if (fd < 0)
		return fd == -ENAMETOOLONG ? fd : -ECONNREFUSED;
	if (read(fd, feat, sizeof(feat)) != sizeof(feat)) {
		close(fd);
		return -ECONNREFUSED;
	}
	memset(feat, 0, sizeof(feat));
	if (write(fd, feat, sizeof(feat)) != sizeof(feat)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct server *s, double p)
{
	size_t i = (size_t)(p * (s->n - 1) + 0.5);

	return s->n ? s->us[i] : 0;
}

static double mean(const struct server *s)
{
	double sum = 0;

	for (unsigned i = 0; i < s->n; i++)
		sum += s->us[i];
	return s->n ? sum / s->n : 0;
}

/* One PR OUT through the first server outside the measurement (set up, clean up). */
static int prout_once(const char *path, int devfd, const struct sgpr_prout_params *p)
{
	uint8_t c10[16] = {0}, cdb[PRH_CDB_SIZE] = {0}, params[24];
	struct prh_reply *rep = malloc(sizeof(*rep));
	int sock = connect_to(path), r;

	if (sock < 0 || !rep) {
		free(rep);
		return sock < 0 ? sock : -ENOMEM;
	}
	sgpr_prout_encode(p, c10, params, sizeof(params));
	memcpy(cdb, c10, 10);
	r = xfer(sock, devfd, cdb, params, 24, rep);
	if (r == 0 && rep->result != 0)
		r = -EIO;
	close(sock);
	free(rep);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"clients", required_argument, NULL, 'c'},
		{"requests", required_argument, NULL, 'n'},
		{"rounds", required_argument, NULL, 'k'},
		{"key", required_argument, NULL, 'K'},
		{},
	};
	struct server srv[SERVERS_MAX] = {};
	struct client cl[CLIENTS_MAX] = {};
	unsigned nclients = 1, requests = 500, rounds = 10, nsrv = 0;
	int c, devfd, ret = 0;

	while ((c = getopt_long(argc, argv, "c:n:k:K:", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			nclients = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			requests = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			rounds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'K':
			arg_key = strtoull(optarg, NULL, 0);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 2 || argc - optind - 1 > SERVERS_MAX || !nclients ||
	    nclients > CLIENTS_MAX || !rounds || requests < rounds * nclients || !arg_key) {
		fprintf(stderr,
			"Usage: prh-bench [--clients N<=%d] [--requests R] [--rounds K] "
			"[--key KEY] DEVICE NAME=SOCKET... (at most %d)\n",
			CLIENTS_MAX, SERVERS_MAX);
		return 2;
	}
	devfd = open(argv[optind], O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (devfd < 0) {
		fprintf(stderr, "prh-bench: cannot open '%s': %m\n", argv[optind]);
		return 1;
	}
	for (int i = optind + 1; i < argc; i++, nsrv++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "prh-bench: expected NAME=SOCKET, got '%s'\n", argv[i]);
			return 2;
		}
		*eq = 0;
		srv[nsrv].name = argv[i];
		srv[nsrv].path = eq + 1;
		srv[nsrv].us = calloc(requests, sizeof(double));
		pthread_mutex_init(&srv[nsrv].lock, NULL);
	}
	for (unsigned i = 0; i < nclients; i++) {
		cl[i].devfd = devfd;
		for (unsigned k = 0; k < nsrv; k++) {
			cl[i].socks[k] = connect_to(srv[k].path);
			if (cl[i].socks[k] < 0) {
				fprintf(stderr, "prh-bench: cannot connect to %s (%s): %s\n",
					srv[k].name, srv[k].path, strerror(-cl[i].socks[k]));
				return 1;
			}
		}
	}
	c = prout_once(srv[0].path, devfd,
		       &(struct sgpr_prout_params){.sa = SGPR_PROUT_REGISTER_AND_IGNORE,
						   .sa_key = arg_key});
	if (c < 0) {
		fprintf(stderr, "prh-bench: cannot register 0x%llx: %s\n",
			(unsigned long long)arg_key, strerror(-c));
		return 1;
	}

	/*
	 * Warm-up: one request per connection, not measured: QEMU keeps its connection for the
	 * life of the VM, and the first request of one may open and identify the device.
	 */
	for (unsigned k = 0; k < nsrv; k++) {
		for (unsigned i = 0; i < nclients; i++) {
			cl[i].srv = &srv[k];
			cl[i].srv_idx = k;
			cl[i].count = 1;
			cl[i].warm_up = true;
			pthread_create(&cl[i].t, NULL, client_main, &cl[i]);
		}
		for (unsigned i = 0; i < nclients; i++) {
			pthread_join(cl[i].t, NULL);
			cl[i].warm_up = false;
		}
	}
	for (unsigned round = 0; round < rounds; round++) {
		/* the servers' order alternates, so neither always runs first */
		for (unsigned kk = 0; kk < nsrv; kk++) {
			unsigned k = round % 2 ? nsrv - 1 - kk : kk;
			unsigned per_round = requests / rounds + (round < requests % rounds);

			for (unsigned i = 0; i < nclients; i++) {
				cl[i].srv = &srv[k];
				cl[i].srv_idx = k;
				cl[i].count = per_round / nclients + (i < per_round % nclients);
				pthread_create(&cl[i].t, NULL, client_main, &cl[i]);
			}
			for (unsigned i = 0; i < nclients; i++)
				pthread_join(cl[i].t, NULL);
		}
	}
	prout_once(srv[0].path, devfd,
		   &(struct sgpr_prout_params){.sa = SGPR_PROUT_REGISTER, .key = arg_key});

	printf("%u client(s), %u requests per server in %u interleaved rounds; mix READ KEYS, READ "
	       "RESERVATION, REGISTER (same key)\n",
	       nclients, requests, rounds);
	printf("%-16s %6s %6s %10s %10s %10s %10s %10s\n", "server", "ok", "failed", "p50_us",
	       "p99_us", "mean_us", "max_us", "first_us");
	for (unsigned k = 0; k < nsrv; k++) {
		qsort(srv[k].us, srv[k].n, sizeof(double), cmp_double);
		printf("%-16s %6u %6u %10.0f %10.0f %10.0f %10.0f %10.0f\n", srv[k].name, srv[k].n,
		       srv[k].failed, pct(&srv[k], 0.5), pct(&srv[k], 0.99), mean(&srv[k]),
		       srv[k].n ? srv[k].us[srv[k].n - 1] : 0, srv[k].first_us);
		if (srv[k].failed || !srv[k].n)
			ret = 1;
	}
	for (unsigned k = 1; k < nsrv; k++)
		printf("ratio %s/%s: p50 %.2f p99 %.2f mean %.2f\n", srv[k].name, srv[0].name,
		       pct(&srv[k], 0.5) / pct(&srv[0], 0.5),
		       pct(&srv[k], 0.99) / pct(&srv[0], 0.99), mean(&srv[k]) / mean(&srv[0]));
	return ret;
}
