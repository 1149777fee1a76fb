/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prh-client: a QEMU pr-manager-helper protocol client for tests. It speaks to prlockd's
 * pr-helper socket or to qemu-pr-helper and prints every reply as hex, so the two can be diffed.
 *
 *   prh-client [--read-only] SOCKET DEVICE SCRIPT|-
 *
 * DEVICE is opened read-write (read-only with --read-only) and its fd is passed with every
 * request, as QEMU does. SCRIPT has one request per line ('#' comments, blank lines skipped):
 *   in read-keys|read-reservation|report-capabilities|read-full-status [ALLOC]   (ALLOC 256)
 *   out register SA_KEY [KEY]           REGISTER (KEY default 0)
 *   out register-ignore SA_KEY          REGISTER AND IGNORE EXISTING KEY
 *   out reserve KEY TYPE | out release KEY TYPE | out clear KEY
 *   out preempt KEY SA_KEY TYPE | out preempt-abort KEY SA_KEY TYPE
 *   raw HEX-CDB [HEX-PARAMS]            sent as given (padded to 16 bytes), no checks
 *   fds N                               send N copies of the fd with the next requests (default 1)
 * TYPE is a number or a name (we, ea, wero, earo, wear, eaar, write-exclusive, ...).
 * Output, one line per request: the request line, ": ", then result (8 hex digits), sz (8),
 * the 96 sense bytes and the data, space separated, data "-" when sz is 0. When the server closes
 * the connection instead of replying the line ends in "closed" and the next request reconnects.
 * Exit status: 0 every request was sent, 1 connection or device error, 2 usage or script error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "prh-proto.h"
#include "sgpr.h"
#include "unix-connect.h"

#define FDS_MAX 8

static int arg_nfds = 1;

static int connect_to(const char *path)
{
	uint8_t feat[PRH_FEATURES_SIZE];
	_cleanup_close_ int fd = unix_connect(path);
	size_t got = 0;

	if (fd < 0)
		return fd;
	while (got < sizeof(feat)) {
		ssize_t k = read(fd, feat + got, sizeof(feat) - got);

		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		got += (size_t)k;
	}
	/* like QEMU up to 11.0: ask for nothing, whatever was offered */
	prh_features_encode(0, feat);
	if (write(fd, feat, sizeof(feat)) != sizeof(feat))
		return -EIO;
	return TAKE_FD(fd);
}

static int hex_decode(const char *s, uint8_t *buf, size_t max, size_t *ret_len)
{
	size_t n = 0;

	while (*s) {
		unsigned v;

		if (n >= max || !s[1] || sscanf(s, "%2x", &v) != 1 || s[0] == ' ' || s[1] == ' ')
			return -EINVAL;
		buf[n++] = (uint8_t)v;
		s += 2;
	}
	*ret_len = n;
	return 0;
}

static void hex_print(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		printf("%02x", buf[i]);
}

static int parse_type(const char *s)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s && !*end && v >= 0 && v <= 15)
		return (int)v;
	return sgpr_type_from_name(s);
}

static int parse_key(const char *s, uint64_t *ret)
{
	/* 0 is a valid key field here (REGISTER from an unregistered nexus) */
	if (strcmp(s, "0") == 0 || strcmp(s, "0x0") == 0) {
		*ret = 0;
		return 0;
	}
	return sgpr_key_parse(s, ret);
}

/* One script line to a frame; returns the frame length, 0 for a line without request, -EINVAL. */
static int build(char *line, uint8_t *frame, size_t framelen)
{
	uint8_t cdb[PRH_CDB_SIZE] = {}, params[PRH_DATA_MAX];
	char *argv[8], *save = NULL;
	int argc = 0, type = 0;
	size_t cdb_len, plen;

	for (char *t = strtok_r(line, " \t", &save); t && argc < 8;
	     t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (argc == 0 || argv[0][0] == '#')
		return 0;

	if (strcmp(argv[0], "fds") == 0 && argc == 2) {
		arg_nfds = atoi(argv[1]);
		if (arg_nfds < 0 || arg_nfds > FDS_MAX)
			return -EINVAL;
		return 0;
	}
	if (strcmp(argv[0], "raw") == 0 && (argc == 2 || argc == 3)) {
		if (hex_decode(argv[1], cdb, sizeof(cdb), &cdb_len) < 0 || !cdb_len)
			return -EINVAL;
		plen = 0;
		if (argc == 3 && hex_decode(argv[2], params, sizeof(params), &plen) < 0)
			return -EINVAL;
		if (framelen < PRH_CDB_SIZE + plen)
			return -EINVAL;
		memset(frame, 0, PRH_CDB_SIZE);
		memcpy(frame, cdb, cdb_len);
		memcpy(frame + PRH_CDB_SIZE, params, plen);
		return (int)(PRH_CDB_SIZE + plen);
	}
	if (strcmp(argv[0], "in") == 0 && (argc == 2 || argc == 3)) {
		static const char *const sas[] = {"read-keys", "read-reservation",
						  "report-capabilities", "read-full-status"};
		long alloc = argc == 3 ? strtol(argv[2], NULL, 0) : 256;
		int sa = -1;

		for (int i = 0; i < 4; i++)
			if (strcmp(argv[1], sas[i]) == 0)
				sa = i;
		if (sa < 0 || alloc < 0 || alloc > 0xffff)
			return -EINVAL;
		sgpr_prin_encode((enum sgpr_prin_sa)sa, (uint16_t)alloc, cdb);
		return prh_request_encode(cdb, SGPR_PRIN_CDB_LEN, NULL, 0, frame, framelen);
	}
	if (strcmp(argv[0], "out") == 0 && argc >= 3) {
		struct sgpr_prout_params p = {};
		const char *v = argv[1];
		int len;

		if (strcmp(v, "register") == 0 && (argc == 3 || argc == 4)) {
			p.sa = SGPR_PROUT_REGISTER;
			if (parse_key(argv[2], &p.sa_key) < 0 ||
			    (argc == 4 && parse_key(argv[3], &p.key) < 0))
				return -EINVAL;
		} else if (strcmp(v, "register-ignore") == 0 && argc == 3) {
			p.sa = SGPR_PROUT_REGISTER_AND_IGNORE;
			if (parse_key(argv[2], &p.sa_key) < 0)
				return -EINVAL;
		} else if ((strcmp(v, "reserve") == 0 || strcmp(v, "release") == 0) && argc == 4) {
			p.sa = v[2] == 's' ? SGPR_PROUT_RESERVE : SGPR_PROUT_RELEASE;
			type = parse_type(argv[3]);
			if (parse_key(argv[2], &p.key) < 0 || type < 0)
				return -EINVAL;
		} else if (strcmp(v, "clear") == 0 && argc == 3) {
			p.sa = SGPR_PROUT_CLEAR;
			if (parse_key(argv[2], &p.key) < 0)
				return -EINVAL;
		} else if ((strcmp(v, "preempt") == 0 || strcmp(v, "preempt-abort") == 0) &&
			   argc == 5) {
			p.sa = v[7] ? SGPR_PROUT_PREEMPT_AND_ABORT : SGPR_PROUT_PREEMPT;
			type = parse_type(argv[4]);
			if (parse_key(argv[2], &p.key) < 0 || parse_key(argv[3], &p.sa_key) < 0 ||
			    type < 0)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		p.type = (uint8_t)type;
		len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
		if (len < 0)
			return len;
		return prh_request_encode(cdb, SGPR_PROUT_CDB_LEN, params, (size_t)len, frame,
					  framelen);
	}
	return -EINVAL;
}

/* Send the frame, the fds with its first byte; print the reply. 0, or -ECONNRESET if closed. */
static int exchange(int sock, int devfd, const uint8_t *frame, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
		struct cmsghdr align;
	} control = {};
	struct iovec iov = {.iov_base = (void *)frame, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	uint8_t hdr[PRH_REPLY_HDR_SIZE];
	static struct prh_reply reply;
	size_t got = 0;
	ssize_t k;
	int sz;

	if (arg_nfds > 0) {
		struct cmsghdr *c;

		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)arg_nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)arg_nfds);
		for (int i = 0; i < arg_nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &devfd, sizeof(int));
	}
	k = sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (k < 0)
		return -ECONNRESET;
	for (size_t done = (size_t)k; done < len; done += (size_t)k) {
		k = send(sock, frame + done, len - done, MSG_NOSIGNAL);
		if (k <= 0)
			return -ECONNRESET;
	}
	while (got < sizeof(hdr)) {
		k = read(sock, hdr + got, sizeof(hdr) - got);
		if (k <= 0)
			return -ECONNRESET;
		got += (size_t)k;
	}
	sz = prh_reply_decode_header(hdr, &reply);
	if (sz < 0) {
		printf("bad reply header ");
		hex_print(hdr, sizeof(hdr));
		return -EBADMSG;
	}
	for (got = 0; got < (size_t)sz; got += (size_t)k) {
		k = read(sock, reply.data + got, (size_t)sz - got);
		if (k <= 0)
			return -ECONNRESET;
	}
	printf("%08x %08x ", (uint32_t)reply.result, reply.sz);
	hex_print(reply.sense, sizeof(reply.sense));
	putchar(' ');
	if (sz)
		hex_print(reply.data, (size_t)sz);
	else
		putchar('-');
	return 0;
}

static void help(void)
{
	printf("Usage: prh-client [--read-only] SOCKET DEVICE SCRIPT|-\n"
	       "Send the requests of SCRIPT to a pr-manager-helper socket, print the replies.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"read-only", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_fclose_ FILE *script = NULL;
	_cleanup_close_ int devfd = -1, sock = -1;
	static uint8_t frame[PRH_CDB_SIZE + PRH_DATA_MAX];
	bool read_only = false;
	char line[2 * (PRH_CDB_SIZE + PRH_DATA_MAX) + 64];
	unsigned lineno = 0;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "rh", options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			read_only = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "prh-client: expected SOCKET DEVICE SCRIPT (--help)\n");
		return 2;
	}
	devfd = open(argv[optind + 1], (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (devfd < 0) {
		fprintf(stderr, "prh-client: cannot open '%s': %m\n", argv[optind + 1]);
		return 1;
	}
	script = strcmp(argv[optind + 2], "-") == 0 ? fdopen(dup(0), "r")
						    : fopen(argv[optind + 2], "re");
	if (!script) {
		fprintf(stderr, "prh-client: cannot open '%s': %m\n", argv[optind + 2]);
		return 2;
	}
	while (fgets(line, sizeof(line), script)) {
		char copy[sizeof(line)];
		int len, r;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		snprintf(copy, sizeof(copy), "%s", line);
		len = build(line, frame, sizeof(frame));
		if (len < 0) {
			fprintf(stderr, "prh-client: line %u: cannot parse '%s'\n", lineno, copy);
			return 2;
		}
		if (len == 0)
			continue;
		if (sock < 0) {
			sock = connect_to(argv[optind]);
			if (sock < 0) {
				fprintf(stderr, "prh-client: cannot connect to '%s': %s\n",
					argv[optind], strerror(-sock));
				return 1;
			}
		}
		printf("%s: ", copy);
		r = exchange(sock, devfd, frame, (size_t)len);
		if (r < 0) {
			printf("closed");
			closep(&sock);
			sock = -1;
			if (r == -EBADMSG)
				ret = 1;
		}
		putchar('\n');
		fflush(stdout);
	}
	return ret;
}
