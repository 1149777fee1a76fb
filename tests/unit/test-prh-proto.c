/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU pr-manager-helper protocol: golden frames of the codec (prh-proto.c), malformed frames,
 * and the server (prh-server.c) on a real unix socket: non-SCSI fds answered CHECK CONDITION and
 * closed, protocol violations closing only their connection, CLEANUP, the read-only check, the
 * policy hook, timeouts of a hung device without blocking other clients, stop with a request in
 * flight, and commands reaching a sim device (single path and a two-path "multipath map").
 * Hostile clients (issue 10): idle connections that never finish the handshake, half requests,
 * per-uid and per-pid limits, the bound on threads abandoned on a hung device; and the device
 * handles a connection keeps.
 * With PRH_CLIENT set (meson does), the prh-client tool is run against the server too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "sim.h"
#include "prh-guard.h"
#include "prh-proto.h"
#include "prh-server.h"

#define KA 0x1111000100000001ull
#define KB 0x1111000200000001ull

/* ---- codec: golden frames --------------------------------------------------- */

static void test_handshake(void **state)
{
	uint8_t buf[4];

	prh_features_encode(0, buf);
	assert_memory_equal(buf, ((uint8_t[]){0, 0, 0, 0}), 4);
	prh_features_encode(0x01020304, buf);
	assert_memory_equal(buf, ((uint8_t[]){1, 2, 3, 4}), 4);
	assert_int_equal(prh_features_decode(buf), 0x01020304);
	assert_int_equal(prh_features_check(PRH_FEATURES_SUPPORTED, 0), 0);
	/* CLEANUP (bit 0) asked for but not offered: close */
	assert_int_equal(prh_features_check(PRH_FEATURES_SUPPORTED, 1), -EPROTO);
	assert_int_equal(prh_features_check(1, 1), 0);
	assert_int_equal(prh_features_check(3, 1), 0);
}

static const uint8_t read_keys_frame[16] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
static const uint8_t read_resv_frame[16] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0x00, 0x18, 0x00};

static void test_prin_request(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	uint8_t cdb[SGPR_PRIN_CDB_LEN], frame[64];

	sgpr_prin_encode(SGPR_PRIN_READ_KEYS, 256, cdb);
	assert_int_equal(prh_request_encode(cdb, sizeof(cdb), NULL, 0, frame, sizeof(frame)), 16);
	assert_memory_equal(frame, read_keys_frame, 16);
	assert_int_equal(prh_request_decode(frame, 16, req), 16);
	assert_int_equal(req->kind, PRH_REQ_PRIN);
	assert_int_equal(req->sa, SGPR_PRIN_READ_KEYS);
	assert_int_equal(req->xfer, 256);
	assert_int_equal(req->params_len, 0);

	/* QEMU's migrate-pr READ RESERVATION, allocation length 24 */
	sgpr_prin_encode(SGPR_PRIN_READ_RESERVATION, 24, cdb);
	assert_int_equal(prh_request_encode(cdb, sizeof(cdb), NULL, 0, frame, sizeof(frame)), 16);
	assert_memory_equal(frame, read_resv_frame, 16);
	assert_int_equal(prh_request_parse_cdb(frame, req), 0);
	assert_int_equal(req->sa, SGPR_PRIN_READ_RESERVATION);
	assert_int_equal(req->xfer, 24);
	free(req);
}

/* clang-format off */
static const uint8_t read_keys_reply[104 + 16] = {
	0x00, 0x00, 0x00, 0x00,	/* result: GOOD */
	0x00, 0x00, 0x00, 0x10,	/* sz: 16 */
	/* 96 bytes of sense, all zero */
	[104] = 0x00, 0x00, 0x00, 0x07,	/* PRgeneration 7 */
	0x00, 0x00, 0x00, 0x08,		/* additional length: one key */
	0x11, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* clang-format on */

/* clang-format off */
static const uint8_t read_resv_reply[104 + 24] = {
	0x00, 0x00, 0x00, 0x00,	/* result: GOOD */
	0x00, 0x00, 0x00, 0x18,	/* sz: 24 */
	[104] = 0x00, 0x00, 0x00, 0x07,	/* PRgeneration 7 */
	0x00, 0x00, 0x00, 0x10,		/* additional length 16 */
	0x11, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,	/* holder's key */
	0x00, 0x00, 0x00, 0x00,		/* obsolete */
	0x00, 0x05, 0x00, 0x00,		/* scope 0, type 5 (WERO) */
};
/* clang-format on */

static void test_prin_replies(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t frame[200];

	assert_int_equal(prh_request_parse_cdb(read_keys_frame, req), 0);
	prh_reply_good(r);
	memcpy(r->data, read_keys_reply + 104, 16);
	r->sz = 16;
	assert_false(prh_reply_sanitize(r, req));
	assert_int_equal(prh_reply_check(req, r), 0);
	assert_int_equal(prh_reply_encode(r, frame, sizeof(frame)), 120);
	assert_memory_equal(frame, read_keys_reply, 120);
	assert_int_equal(prh_reply_encode(r, frame, 119), -ENOBUFS);

	assert_int_equal(prh_request_parse_cdb(read_resv_frame, req), 0);
	prh_reply_good(r);
	memcpy(r->data, read_resv_reply + 104, 24);
	r->sz = 24;
	assert_false(prh_reply_sanitize(r, req));
	assert_int_equal(prh_reply_encode(r, frame, sizeof(frame)), 128);
	assert_memory_equal(frame, read_resv_reply, 128);

	/* the client's view of the same bytes */
	memset(r, 0xaa, sizeof(*r));
	assert_int_equal(prh_reply_decode_header(read_resv_reply, r), 24);
	assert_int_equal(r->result, 0);
	assert_int_equal(r->sz, 24);
	free(req);
	free(r);
}

/* clang-format off */
static const uint8_t register_frame[16 + 24] = {
	/* PR OUT REGISTER, parameter list length 24 (bytes 7-8), zero-padded to 16 */
	0x5f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* RESERVATION KEY 0 */
	0x11, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,	/* SERVICE ACTION RESERVATION KEY */
	0x00, 0x00, 0x00, 0x00,				/* obsolete */
	0x01, 0x00, 0x00, 0x00,				/* APTPL */
};
/* clang-format on */

static void test_prout_register(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER, .sa_key = KA, .aptpl = true}, d;
	uint8_t cdb[SGPR_PROUT_CDB_LEN], params[64], frame[64];
	int len;

	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	assert_int_equal(len, 24);
	assert_int_equal(prh_request_encode(cdb, sizeof(cdb), params, 24, frame, sizeof(frame)),
			 40);
	assert_memory_equal(frame, register_frame, 40);
	/* the parameter list must match CDB bytes 7-8 */
	assert_int_equal(prh_request_encode(cdb, sizeof(cdb), params, 23, frame, sizeof(frame)),
			 -EINVAL);
	assert_int_equal(prh_request_encode(cdb, sizeof(cdb), params, 24, frame, 39), -ENOBUFS);

	assert_int_equal(prh_request_parse_cdb(register_frame, req), 24);
	assert_int_equal(prh_request_decode(register_frame, 40, req), 40);
	assert_int_equal(req->kind, PRH_REQ_PROUT);
	assert_int_equal(req->params_len, 24);
	assert_int_equal(prh_prout_decode(req, &d), 0);
	assert_int_equal(d.sa, SGPR_PROUT_REGISTER);
	assert_true(d.key == 0 && d.sa_key == KA && d.aptpl && !d.spec_i_pt && !d.all_tg_pt);

	/* the reply to a PR OUT never carries data */
	struct prh_reply *r = calloc(1, sizeof(*r));

	prh_reply_good(r);
	r->sz = 8;
	assert_int_equal(prh_reply_check(req, r), -EPROTO);
	assert_true(prh_reply_sanitize(r, req));
	assert_int_equal(r->sz, 0);
	assert_int_equal(prh_reply_check(req, r), 0);

	/* REGISTER AND MOVE has another list layout: not decoded */
	req->sa = SGPR_PROUT_REGISTER_AND_MOVE;
	assert_int_equal(prh_prout_decode(req, &d), -EINVAL);
	req->sa = SGPR_PROUT_REGISTER;
	req->params_len = 28;
	assert_int_equal(prh_prout_decode(req, &d), -EBADMSG);
	free(r);
	free(req);
}

/* clang-format off */
static const uint8_t check_condition_reply[104] = {
	0x00, 0x00, 0x00, 0x02,	/* result: CHECK CONDITION */
	0x00, 0x00, 0x00, 0x00,	/* sz: 0 */
	/* fixed-format sense: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20/00) */
	0x70, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0x00, 0x00, 0x00, 0x00, 0x20, 0x00, /* the rest of the 96 bytes zero */
};
/* clang-format on */

static void test_error_replies(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t frame[200];

	assert_int_equal(prh_request_parse_cdb(read_keys_frame, req), 0);
	prh_reply_check_condition(r, 0x05, 0x20, 0x00);
	assert_int_equal(prh_reply_encode(r, frame, sizeof(frame)), 104);
	assert_memory_equal(frame, check_condition_reply, 104);

	/* a status without sense: the sense bytes are zero */
	prh_reply_status(r, SGPR_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(prh_reply_encode(r, frame, sizeof(frame)), 104);
	assert_memory_equal(frame, ((uint8_t[8]){0, 0, 0, 0x18, 0, 0, 0, 0}), 8);
	for (int i = 8; i < 104; i++)
		assert_int_equal(frame[i], 0);

	/* invariants QEMU asserts: data only with GOOD, never past the allocation length */
	prh_reply_check_condition(r, 0x05, 0x24, 0x00);
	r->sz = 16;
	assert_int_equal(prh_reply_check(req, r), -EPROTO);
	assert_true(prh_reply_sanitize(r, req));
	assert_int_equal(r->sz, 0);
	assert_int_equal(r->sense[12], 0x24); /* CHECK CONDITION keeps its sense */

	prh_reply_good(r);
	r->sz = 300; /* allocation length 256 */
	r->sense[0] = 0x70;
	assert_int_equal(prh_reply_check(req, r), -EPROTO);
	assert_true(prh_reply_sanitize(r, req));
	assert_int_equal(r->sz, 256);
	assert_int_equal(r->sense[0], 0); /* unused sense zeroed */
	assert_int_equal(prh_reply_check(req, r), 0);

	/* errno mapping of the server */
	prh_reply_from_errno(r, -ENOTTY, NULL);
	assert_int_equal(r->result, 2);
	assert_true(r->sense[2] == 0x05 && r->sense[12] == 0x25 && r->sense[13] == 0);
	prh_reply_from_errno(r, -EBADE, NULL);
	assert_int_equal(r->result, SGPR_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(r->sense[0], 0);
	prh_reply_from_errno(r, -ETIMEDOUT, NULL);
	assert_true(r->sense[2] == 0x0b && r->sense[12] == 0x2e && r->sense[13] == 0x02);
	prh_reply_from_errno(r, -EIO, NULL);
	assert_true(r->sense[2] == 0x0b && r->sense[12] == 0x00 && r->sense[13] == 0x06);
	/* a device's own status and sense pass through, cut to 96 bytes */
	struct sgpr_status st = {.answered = true, .status = 2, .sense_len = 200};

	memset(st.sense, 0x5a, sizeof(st.sense));
	prh_reply_from_errno(r, -EIO, &st);
	assert_int_equal(r->result, 2);
	assert_int_equal(r->sense[95], 0x5a);
	free(r);
	free(req);
}

static void test_cleanup_request(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	/* 10-byte vendor CDB; whatever bytes 7-8 say, no data follows */
	uint8_t cdb[16] = {0xff, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

	assert_int_equal(prh_request_parse_cdb(cdb, req), 0);
	assert_int_equal(req->kind, PRH_REQ_CLEANUP);
	assert_int_equal(req->xfer, 0);
	free(req);
}

static void test_malformed(void **state)
{
	struct prh_request *req = calloc(1, sizeof(*req));
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t cdb[16] = {0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0x00}; /* 8192 */
	uint8_t hdr[104] = {};

	/* short: less than a CDB, or a PR OUT without all of its list */
	assert_int_equal(prh_request_decode(read_keys_frame, 15, req), -EAGAIN);
	assert_int_equal(prh_request_decode(register_frame, 39, req), -EAGAIN);
	assert_int_equal(prh_request_decode(register_frame, 16, req), -EAGAIN);
	/* the limit itself is fine, one more is a violation (PR IN and PR OUT) */
	assert_int_equal(prh_request_parse_cdb(cdb, req), 0);
	cdb[8] = 0x01;
	assert_int_equal(prh_request_parse_cdb(cdb, req), -EMSGSIZE);
	cdb[0] = 0x5f;
	assert_int_equal(prh_request_parse_cdb(cdb, req), -EMSGSIZE);
	cdb[7] = 0xff;
	cdb[8] = 0xff;
	assert_int_equal(prh_request_parse_cdb(cdb, req), -EMSGSIZE);
	/* SPC's 32-bit PR OUT length (bytes 5-8) is not the framing: bytes 5-6 are ignored */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5f;
	cdb[5] = 0xff;
	cdb[6] = 0xff;
	cdb[8] = 24;
	assert_int_equal(prh_request_parse_cdb(cdb, req), 24);
	/* wrong opcodes: INQUIRY, TEST UNIT READY, READ(10), 0x5d */
	for (unsigned i = 0; i < 4; i++) {
		static const uint8_t ops[] = {0x12, 0x00, 0x28, 0x5d};

		cdb[0] = ops[i];
		assert_int_equal(prh_request_parse_cdb(cdb, req), -EPROTO);
		assert_int_equal(prh_request_decode(cdb, 16, req), -EPROTO);
	}
	/* fd count */
	assert_int_equal(prh_check_nfds(0), -EPROTO);
	assert_int_equal(prh_check_nfds(1), 0);
	assert_int_equal(prh_check_nfds(2), -EPROTO);
	/* truncated or lying reply headers */
	hdr[4] = 0x80; /* sz negative */
	assert_int_equal(prh_reply_decode_header(hdr, r), -EBADMSG);
	hdr[4] = 0;
	hdr[6] = 0x20;
	hdr[7] = 0x01; /* 8193 */
	assert_int_equal(prh_reply_decode_header(hdr, r), -EBADMSG);
	hdr[7] = 0x00;
	assert_int_equal(prh_reply_decode_header(hdr, r), 8192);
	r->sz = 8193;
	assert_int_equal(prh_reply_encode(r, hdr, sizeof(hdr)), -EINVAL);
	/* client-side encode refuses what QEMU refuses */
	assert_int_equal(prh_request_encode(cdb, 0, NULL, 0, hdr, sizeof(hdr)), -EINVAL);
	assert_int_equal(prh_request_encode(cdb, 17, NULL, 0, hdr, sizeof(hdr)), -EINVAL);
	free(r);
	free(req);
}

static void test_cmsg_fds(void **state)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {};
	struct msghdr msg = {.msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c;
	int in[3] = {7, 8, 9}, out[2] = {-1, -1};

	assert_int_equal(prh_cmsg_fds(&(struct msghdr){}, out, 2), 0);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 3);
	memcpy(CMSG_DATA(c), in, sizeof(in));
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS; /* not fds */
	c->cmsg_len = CMSG_LEN(sizeof(int));
	/* 3 counted, 2 stored */
	assert_int_equal(prh_cmsg_fds(&msg, out, 2), 3);
	assert_int_equal(out[0], 7);
	assert_int_equal(out[1], 8);
}

/* ---- the server on a socket ------------------------------------------------- */

struct fx {
	char dir[64], path[128];
	struct prh_server *s;
	struct sgpr_sim_lun *lun;
	unsigned npaths; /* open_fn: 1 or 2 sim paths; 0: no open_fn (sgpr_dev_open) */
	/*
	 * open_fn blocks while hold is set; release_held() lets one blocked call through. The sim
	 * LUN is not thread-safe: two server threads must never be inside it at once.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold;
	unsigned passes;
	unsigned opens;
	bool refuse_prout; /* policy */
	bool guard;	   /* policy: prh_guard_check() with guard_ctx */
	struct prh_guard_ctx guard_ctx;
	unsigned policy_calls;
	char last_devnode[64];
	bool last_fd_ok;
	struct prh_server_opts limits; /* max_* and handshake_timeout_ms for fx_start */
	struct sgpr_sim_fault fault;   /* set on every handle fx_open opens */
	unsigned log_lines;	       /* logged by the server, under lock */
	char last_log[512];
};

static struct fx *F;

static int fx_open(void *userdata, int fd, const char *devnode, const struct sgpr_dev_opts *opts,
		   struct sgpr_dev **ret)
{
	static const char *const names[] = {"iqn.2024-01.test:vm,i,0x400000000001",
					    "iqn.2024-01.test:vm,i,0x400000000011"};
	struct fx *f = userdata;
	int r;

	pthread_mutex_lock(&f->lock);
	__atomic_add_fetch(&f->opens, 1, __ATOMIC_SEQ_CST);
	snprintf(f->last_devnode, sizeof(f->last_devnode), "%s", devnode);
	f->last_fd_ok = fcntl(fd, F_GETFD) >= 0; /* the client's fd, still open here */
	while (f->hold && !f->passes)
		pthread_cond_wait(&f->cond, &f->lock);
	if (f->hold)
		f->passes--;
	pthread_mutex_unlock(&f->lock);
	if (!f->lun)
		return -ENOTTY;
	if (f->npaths > 1)
		return sgpr_sim_open_paths(f->lun, names, f->npaths, opts, ret);
	r = sgpr_sim_open(f->lun, names[0], opts, ret);
	if (r == 0 && f->fault.kind != SGPR_SIM_FAULT_NONE)
		sgpr_sim_set_fault(*ret, &f->fault);
	return r;
}

static int fx_policy(void *userdata, const struct prh_request_info *info, struct prh_verdict *v)
{
	struct fx *f = userdata;

	__atomic_add_fetch(&f->policy_calls, 1, __ATOMIC_SEQ_CST);
	if (f->guard && info->req->kind == PRH_REQ_PROUT)
		return prh_guard_check(info->dev, &f->guard_ctx, info->req, v);
	if (f->refuse_prout && info->req->kind == PRH_REQ_PROUT) {
		v->status = SGPR_STATUS_CHECK_CONDITION;
		v->key = 0x05;
		v->asc = 0x20;
		v->ascq = 0x00;
		snprintf(v->reason, sizeof(v->reason), "held by prlockd (test)");
		return -EBUSY;
	}
	return 0;
}

static void fx_log(void *userdata, int prio, const char *msg)
{
	struct fx *f = userdata;

	if (getenv("PRH_TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", prio, msg);
	pthread_mutex_lock(&f->lock);
	f->log_lines++;
	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
	pthread_mutex_unlock(&f->lock);
}

static void fx_start(struct fx *f, unsigned request_timeout_ms)
{
	struct prh_server_opts o = {
		.request_timeout_ms = request_timeout_ms,
		.policy = fx_policy,
		.policy_userdata = f,
		.log_fn = fx_log,
		.log_userdata = f,
		.open_fn = f->npaths ? fx_open : NULL,
		.open_userdata = f,
		.max_connections = f->limits.max_connections,
		.max_per_uid = f->limits.max_per_uid,
		.max_per_pid = f->limits.max_per_pid,
		.max_abandoned = f->limits.max_abandoned,
		.handshake_timeout_ms = f->limits.handshake_timeout_ms,
	};
	int lfd;

	assert_int_equal(prh_listen(f->path, 0660, &lfd), 0);
	assert_int_equal(prh_server_start(lfd, &o, &f->s), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-prh-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pr-helper.sock", f->dir);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	F = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	prh_server_free(f->s);
	sgpr_sim_lun_free(f->lun);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int connect_raw(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t k = read(fd, (uint8_t *)buf + got, len - got);

		if (k <= 0)
			return -ECONNRESET;
		got += (size_t)k;
	}
	return 0;
}

static int client_connect(const char *path)
{
	uint8_t feat[4];
	int fd = connect_raw(path);

	assert_int_equal(read_all(fd, feat, 4), 0);
	assert_memory_equal(feat, ((uint8_t[]){0, 0, 0, 0}), 4); /* we advertise 0 */
	memset(feat, 0, 4);
	assert_int_equal(write(fd, feat, 4), 4);
	return fd;
}

static void send_frame(int sock, const uint8_t *frame, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control = {};
	struct iovec iov = {.iov_base = (void *)frame, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *c;

		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* sz, or -ECONNRESET when the server closed the connection */
static int recv_reply(int sock, struct prh_reply *r)
{
	uint8_t hdr[PRH_REPLY_HDR_SIZE];
	int sz;

	if (read_all(sock, hdr, sizeof(hdr)) < 0)
		return -ECONNRESET;
	sz = prh_reply_decode_header(hdr, r);
	assert_true(sz >= 0);
	assert_int_equal(read_all(sock, r->data, (size_t)sz), 0);
	return sz;
}

static bool sense_is(const struct prh_reply *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	return r->result == SGPR_STATUS_CHECK_CONDITION && r->sense[0] == 0x70 &&
	       r->sense[2] == key && r->sense[12] == asc && r->sense[13] == ascq;
}

static void assert_sense_zero(const struct prh_reply *r)
{
	for (int i = 0; i < PRH_SENSE_SIZE; i++)
		assert_int_equal(r->sense[i], 0);
}

static void test_server_not_scsi(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, null_fd, mem_fd, before;

	fx_start(f, 0);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	mem_fd = memfd_create("prh", MFD_CLOEXEC);
	assert_true(null_fd >= 0 && mem_fd >= 0);
	sock = client_connect(f->path);
	before = open_fds();

	/* /dev/null: a char device, but not SCSI (sgpr_dev_open_fd says -ENOTTY) */
	send_frame(sock, read_keys_frame, 16, &null_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x25, 0x00));
	assert_int_equal(open_fds(), before); /* the server closed its copy */

	/* a memfd is no device at all */
	send_frame(sock, read_keys_frame, 16, &mem_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x25, 0x00));
	send_frame(sock, register_frame, 40, &mem_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x25, 0x00));
	assert_int_equal(open_fds(), before);

	/* CLEANUP: GOOD, no data, zero sense */
	uint8_t cleanup[16] = {0xff};

	send_frame(sock, cleanup, 16, &null_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_sense_zero(r);
	assert_int_equal(open_fds(), before);

	close(sock);
	close(null_fd);
	close(mem_fd);
	free(r);
}

static void test_server_read_only(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, ro_fd;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 0);
	ro_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sock = client_connect(f->path);
	/* PR OUT on a read-only fd: 05/20/00 without touching the device */
	send_frame(sock, register_frame, 40, &ro_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x20, 0x00));
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0);
	/* PR IN is fine read-only */
	send_frame(sock, read_keys_frame, 16, &ro_fd, 1);
	assert_int_equal(recv_reply(sock, r), 8);
	assert_int_equal(r->result, 0);
	pthread_mutex_lock(&f->lock);
	assert_string_equal(f->last_devnode, "/dev/null");
	assert_true(f->last_fd_ok);
	pthread_mutex_unlock(&f->lock);
	close(sock);
	close(ro_fd);
	free(r);
}

/* One violation per connection; the other connection goes on. */
static void test_server_violations(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t big[16] = {0x5f, 0, 0, 0, 0, 0, 0, 0x20, 0x01}, inquiry[16] = {0x12};
	int good, bad, fd, fds[2], before;
	struct prh_server_stats st;

	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	fds[0] = fd;
	fds[1] = fd;
	good = client_connect(f->path);
	before = open_fds();

	/* two fds: closed, both fds closed */
	bad = client_connect(f->path);
	send_frame(bad, read_keys_frame, 16, fds, 2);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* no fd */
	bad = client_connect(f->path);
	send_frame(bad, read_keys_frame, 16, NULL, 0);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* wrong opcode */
	bad = client_connect(f->path);
	send_frame(bad, inquiry, 16, &fd, 1);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* parameter list length 8193 */
	bad = client_connect(f->path);
	send_frame(bad, big, 16, &fd, 1);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* short: half a CDB, then EOF */
	bad = client_connect(f->path);
	send_frame(bad, read_keys_frame, 8, &fd, 1);
	shutdown(bad, SHUT_WR);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* a PR OUT list cut short */
	bad = client_connect(f->path);
	send_frame(bad, register_frame, 30, &fd, 1);
	shutdown(bad, SHUT_WR);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);
	/* a feature bit we did not offer */
	bad = connect_raw(f->path);
	uint8_t feat[4];

	assert_int_equal(read_all(bad, feat, 4), 0);
	prh_features_encode(1, feat);
	assert_int_equal(write(bad, feat, 4), 4);
	assert_int_equal(recv_reply(bad, r), -ECONNRESET);
	close(bad);

	/* the good connection still works */
	send_frame(good, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(good, r), 0);
	assert_true(sense_is(r, 0x05, 0x25, 0x00));

	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.violations, 7);
	assert_int_equal(st.connections, 8);
	/* every connection thread is gone and every fd it received closed */
	for (int i = 0; i < 200 && st.active != 1; i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	assert_int_equal(st.active, 1);
	assert_int_equal(open_fds(), before);
	close(good);
	close(fd);
	free(r);
}

static void test_server_sim(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t frame[64], cdb[10], params[24];
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RESERVE, .key = KA, .type = SGPR_TYPE_WERO};
	int sock, fd, len;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sock = client_connect(f->path);

	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_sense_zero(r);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);

	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);

	/* READ KEYS with allocation length 256: header + one key */
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	assert_int_equal(r->result, 0);
	assert_memory_equal(r->data + 4, ((uint8_t[]){0, 0, 0, 8, 0x11, 0x11, 0, 1, 0, 0, 0, 1}),
			    12);
	/* READ RESERVATION with allocation length 24 */
	send_frame(sock, read_resv_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 24);
	assert_int_equal(r->data[21], SGPR_TYPE_WERO);
	/* allocation length 12: the reply is cut there, never longer */
	uint8_t short_keys[16] = {0x5e, 0, 0, 0, 0, 0, 0, 0, 12};

	send_frame(sock, short_keys, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 12);

	/* RESERVE by another key from this nexus: RESERVATION CONFLICT, zero sense */
	p.key = KB;
	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, SGPR_STATUS_RESERVATION_CONFLICT);
	assert_sense_zero(r);

	/* an unknown PR IN service action: the device's own CHECK CONDITION comes back */
	uint8_t bad_sa[16] = {0x5e, 0x1f, 0, 0, 0, 0, 0, 0, 64};

	send_frame(sock, bad_sa, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, SGPR_STATUS_CHECK_CONDITION);
	assert_int_equal(r->sense[2] & 0xf, 0x05);

	/* the policy hook refuses PR OUT, PR IN goes on */
	f->refuse_prout = true;
	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x20, 0x00));
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	struct prh_server_stats st;

	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.refused, 1);
	assert_true(f->policy_calls >= 8);
	close(sock);
	close(fd);
	free(r);
}

/* A dm-multipath map with two paths: REGISTER on both, PREEMPT of the own key keeps both. */
static void test_server_multipath(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t frame[64], cdb[10], params[24];
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RESERVE, .key = KA, .type = SGPR_TYPE_WERO};
	uint64_t holder;
	int sock, fd, len;

	f->npaths = 2;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sock = client_connect(f->path);

	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 2);

	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->lun, &holder), SGPR_TYPE_WERO);

	/* PREEMPT KA by KA (migrate-pr): the other path is registered again */
	p = (struct sgpr_prout_params){
		.sa = SGPR_PROUT_PREEMPT, .key = KA, .sa_key = KA, .type = SGPR_TYPE_WERO};
	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 2);
	assert_int_equal(sgpr_sim_lun_reservation(f->lun, &holder), SGPR_TYPE_WERO);

	/* ALL_TG_PT and SPEC_I_PT registrations cannot be repeated per path */
	p = (struct sgpr_prout_params){.sa = SGPR_PROUT_REGISTER, .key = KA, .sa_key = KB};
	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	params[20] |= PRH_PROUT_ALL_TG_PT;
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x26, 0x00));
	/* a REGISTER list of the wrong length: PARAMETER LIST LENGTH ERROR */
	cdb[8] = 20;
	len = prh_request_encode(cdb, 10, params, 20, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x05, 0x1a, 0x00));

	/* unregister: both paths */
	p = (struct sgpr_prout_params){.sa = SGPR_PROUT_REGISTER, .key = KA, .sa_key = 0};
	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
	send_frame(sock, frame, (size_t)len, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0);
	close(sock);
	close(fd);
	free(r);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_hold(struct fx *f, bool hold)
{
	pthread_mutex_lock(&f->lock);
	f->hold = hold;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/*
 * Close a client's connection and wait until its server thread has ended (and freed its
 * handles): connection threads sharing f->lun must not end at once.
 */
static void close_and_wait(struct fx *f, int sock)
{
	struct prh_server_stats st;
	unsigned before;

	prh_server_get_stats(f->s, &st);
	before = st.active;
	close(sock);
	for (int i = 0; i < 500 && st.active >= before; i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	assert_int_equal(st.active, before - 1);
}

/* Let one open_fn call blocked by hold through (hold stays set). */
static void release_held(struct fx *f)
{
	pthread_mutex_lock(&f->lock);
	f->passes++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* A hung device: that request times out, another connection is served meanwhile. */
static void test_server_hung_device(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int a, b, fd, mem_fd;
	struct prh_server_stats st;
	uint64_t t0;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 1000);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	mem_fd = memfd_create("prh", MFD_CLOEXEC);
	a = client_connect(f->path);
	b = client_connect(f->path);

	set_hold(f, true);
	t0 = now_ms();
	send_frame(a, read_keys_frame, 16, &fd, 1);
	/* b is answered while a's device hangs (b's fd never reaches a device) */
	send_frame(b, read_keys_frame, 16, &mem_fd, 1);
	assert_int_equal(recv_reply(b, r), 0);
	assert_true(sense_is(r, 0x05, 0x25, 0x00));
	assert_true(now_ms() - t0 < 900);
	/* a: COMMAND TIMEOUT after ~1 s */
	assert_int_equal(recv_reply(a, r), 0);
	assert_true(sense_is(r, 0x0b, 0x2e, 0x02));
	assert_true(now_ms() - t0 >= 990);
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.abandoned, 1);
	set_hold(f, false);
	for (int i = 0; i < 200 && st.abandoned; i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	assert_int_equal(st.abandoned, 0);
	/* a goes on */
	send_frame(a, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(a, r), 8);
	close(a);
	close(b);
	close(fd);
	close(mem_fd);
	free(r);
}

static void *release_later(void *arg)
{
	usleep(200000);
	set_hold(arg, false);
	return NULL;
}

/* Stop with a request in flight: it is answered, then the connection ends. */
static void test_server_stop_in_flight(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int a, idle, fd;
	pthread_t t;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 5000);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	a = client_connect(f->path);
	idle = client_connect(f->path);
	set_hold(f, true);
	send_frame(a, read_keys_frame, 16, &fd, 1);
	for (int i = 0; i < 200 && !__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST); i++)
		usleep(5000);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 1);
	pthread_create(&t, NULL, release_later, f);
	prh_server_stop(f->s);
	pthread_join(t, NULL);
	assert_int_equal(recv_reply(a, r), 8);
	assert_int_equal(r->result, 0);
	assert_int_equal(recv_reply(a, r), -ECONNRESET);
	assert_int_equal(recv_reply(idle, r), -ECONNRESET);
	/* no longer listening */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, f->path);
	assert_true(connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0);
	close(c);
	prh_server_stop(f->s); /* idempotent */
	close(a);
	close(idle);
	close(fd);
	free(r);
}

static void test_listen(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd, fd2;

	assert_int_equal(prh_listen(f->path, 0660, &fd), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	close(fd);
	/* a stale socket is replaced */
	assert_int_equal(prh_listen(f->path, 0600, &fd2), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd2);
	unlink(f->path);
	/* a regular file is not */
	fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	assert_int_equal(prh_listen(f->path, 0660, &fd), -EEXIST);
	unlink(f->path);
	char longp[200];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(prh_listen(longp, 0660, &fd), -ENAMETOOLONG);
}

/* The prh-client tool against the server (sim device), output checked line by line. */
static void test_client_tool(void **state)
{
	struct fx *f = *state;
	const char *client = getenv("PRH_CLIENT");
	char script[160], cmd[512], line[1024];
	FILE *s, *out;
	unsigned n = 0;

	if (!client)
		skip();
	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 0);
	snprintf(script, sizeof(script), "%s/script", f->dir);
	s = fopen(script, "we");
	assert_non_null(s);
	fputs("# comment\n"
	      "out register 0x1111000100000001\n"
	      "out reserve 0x1111000100000001 wero\n"
	      "in read-keys\n"
	      "in read-reservation 24\n"
	      "in report-capabilities 8\n"
	      "out preempt 0x1111000100000001 0x1111000100000001 wero\n"
	      "out release 0x1111000100000001 wero\n"
	      "out clear 0x1111000100000001\n"
	      "raw ff\n"
	      "fds 2\n"
	      "in read-keys\n"
	      "fds 1\n"
	      "raw 12000000ff00\n"
	      "in read-keys 8\n",
	      s);
	fclose(s);
	snprintf(cmd, sizeof(cmd), "%s %s /dev/null %s", client, f->path, script);
	out = popen(cmd, "r");
	assert_non_null(out);
	while (fgets(line, sizeof(line), out)) {
		char *colon = strstr(line, ": ");
		unsigned result, sz;

		assert_non_null(colon);
		n++;
		if (strstr(line, "closed")) {
			assert_true(strncmp(line, "in read-keys:", 13) == 0 ||
				    strncmp(line, "raw 12", 6) == 0);
			continue;
		}
		assert_int_equal(sscanf(colon + 2, "%x %x", &result, &sz), 2);
		assert_int_equal(result, 0);
		if (strncmp(line, "in read-keys 8:", 15) == 0)
			assert_int_equal(sz, 8);
		else if (strncmp(line, "in read-reservation", 19) == 0)
			assert_int_equal(sz, 24);
		else if (strncmp(line, "in report-capabilities", 22) == 0)
			assert_int_equal(sz, 8);
		else if (strncmp(line, "in read-keys:", 13) == 0)
			assert_int_equal(sz, 16);
		else
			assert_int_equal(sz, 0);
	}
	assert_int_equal(WEXITSTATUS(pclose(out)), 0);
	assert_int_equal(n, 12);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0);
	unlink(script);
}

static unsigned threads_now(void)
{
	char line[256];
	unsigned n = 0;
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %u", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* EOF within ms (true), or still open (false); whatever the server sent is skipped. */
static bool closed_within(int fd, int ms)
{
	uint64_t t0 = now_ms();
	uint8_t buf[256];

	for (;;) {
		int left = ms - (int)(now_ms() - t0);
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		if (read(fd, buf, sizeof(buf)) <= 0)
			return true;
	}
}

/*
 * 256 connections that never finish the handshake: a well-behaved client is still served at
 * once, and every one of them is closed after the handshake deadline, threads gone.
 */
static void test_server_idle_flood(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int idle[256], sock, fd;
	struct prh_server_stats st;
	unsigned threads0;
	uint64_t t0;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	f->limits = (struct prh_server_opts){.max_connections = 300,
					     .max_per_uid = 300,
					     .max_per_pid = 300,
					     .handshake_timeout_ms = 2000};
	threads0 = threads_now();
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 256; i++)
		idle[i] = connect_raw(f->path);
	t0 = now_ms();
	sock = client_connect(f->path);
	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	assert_true(now_ms() - t0 < 1000); /* served within a second, idle ones or not */
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);

	/* every idle one is closed after ~2 s (generous margin), the good one stays */
	for (int i = 0; i < 256; i++) {
		assert_true(closed_within(idle[i], 10000));
		close(idle[i]);
	}
	assert_true(now_ms() - t0 >= 1900);
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.stalled, 256);
	for (int i = 0; i < 500 && st.active != 1; i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	assert_int_equal(st.active, 1);
	for (int i = 0; i < 500 && threads_now() > threads0 + 3; i++)
		usleep(10000);
	assert_true(threads_now() <= threads0 + 3); /* accept, watchdog, the good connection */
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	close(sock);
	close(fd);
	free(r);
}

/* Half a request, then silence: closed after the deadline; idle between requests is fine. */
static void test_server_half_request(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	struct prh_server_stats st;
	int a, b, idle, fd;
	uint64_t t0;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	f->limits.handshake_timeout_ms = 1000;
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	idle = client_connect(f->path);
	a = client_connect(f->path);
	b = client_connect(f->path);
	t0 = now_ms();
	send_frame(a, read_keys_frame, 8, &fd, 1); /* half a CDB */
	send_frame(b, register_frame, 30, &fd, 1); /* a PR OUT list cut short */
	assert_true(closed_within(a, 10000));
	assert_true(closed_within(b, 10000));
	assert_true(now_ms() - t0 >= 900);
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.stalled, 2);
	assert_int_equal(st.violations, 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0); /* nothing half-sent ran */
	/* idle between requests for longer than the deadline: still served */
	send_frame(idle, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(idle, r), 8);
	assert_int_equal(r->result, 0);
	close(a);
	close(b);
	close(idle);
	close(fd);
	free(r);
}

/* In a child: connect twice; 0 if the first is served a handshake and the second closed. */
static int child_two_connections(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t feat[4];
	int a, b;

	strcpy(sa.sun_path, path);
	a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(a, (struct sockaddr *)&sa, sizeof(sa)) < 0 || read(a, feat, 4) != 4)
		return 1;
	if (connect(b, (struct sockaddr *)&sa, sizeof(sa)) < 0 || read(b, feat, 4) != 0)
		return 2;
	return 0;
}

/* Per pid and per uid limits: the connection over a limit is closed at accept, unanswered. */
static void test_server_peer_limits(void **state)
{
	struct fx *f = *state;
	struct prh_server_stats st;
	int c[4], status;
	uint8_t feat[4];
	pid_t pid;

	f->limits = (struct prh_server_opts){.max_per_pid = 3, .max_per_uid = 4};
	fx_start(f, 0);
	for (int i = 0; i < 3; i++)
		c[i] = client_connect(f->path);
	c[3] = connect_raw(f->path);
	assert_int_equal(read(c[3], feat, 4), 0); /* closed at once: no feature word */
	close(c[3]);
	/* another process of the same uid: one more fits the uid's 4, the next does not */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_two_connections(f->path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.rejected, 2);
	/* a closed connection frees its place */
	close(c[0]);
	for (int i = 0; i < 500 && st.active != 2; i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	c[0] = client_connect(f->path);
	for (int i = 0; i < 3; i++)
		close(c[i]);
}

/*
 * A hung device: each timed-out request leaves a thread behind; at max_abandoned the next
 * request is answered BUSY at once, without a device open; when the device answers again
 * the threads end and requests are served.
 */
static void test_server_abandoned_bound(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	struct prh_server_stats st;
	int a, b, c, fd;
	unsigned opens;
	uint64_t t0;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	f->limits.max_abandoned = 2;
	fx_start(f, 300);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	a = client_connect(f->path);
	b = client_connect(f->path);
	c = client_connect(f->path);
	set_hold(f, true);
	send_frame(a, read_keys_frame, 16, &fd, 1);
	send_frame(b, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(a, r), 0);
	assert_true(sense_is(r, 0x0b, 0x2e, 0x02));
	assert_int_equal(recv_reply(b, r), 0);
	assert_true(sense_is(r, 0x0b, 0x2e, 0x02));
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.abandoned, 2);
	opens = __atomic_load_n(&f->opens, __ATOMIC_SEQ_CST);
	t0 = now_ms();
	send_frame(c, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(c, r), 0);
	assert_int_equal(r->result, SGPR_STATUS_BUSY);
	assert_true(now_ms() - t0 < 250);	    /* at once, not after the timeout */
	send_frame(a, read_keys_frame, 16, &fd, 1); /* a's new thread: BUSY too */
	assert_int_equal(recv_reply(a, r), 0);
	assert_int_equal(r->result, SGPR_STATUS_BUSY);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), opens);
	prh_server_get_stats(f->s, &st);
	assert_int_equal(st.busy, 2);
	assert_int_equal(st.timeouts, 2);
	/*
	 * The device answers again, to one abandoned thread at a time: released together, both
	 * would open and free sim handles on f->lun at once, and the sim LUN is not thread-safe
	 * (its nexus list and name table got corrupted: SIGSEGV later in the test).
	 */
	for (unsigned left = 2; left-- > 0;) {
		release_held(f);
		for (int i = 0; i < 500 && st.abandoned > left; i++) {
			usleep(10000);
			prh_server_get_stats(f->s, &st);
		}
		assert_int_equal(st.abandoned, left);
	}
	set_hold(f, false);
	send_frame(c, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(c, r), 8);
	assert_int_equal(r->result, 0);
	send_frame(b, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(b, r), 8);
	/* b's and c's threads free a sim handle each as they end: one after the other */
	close_and_wait(f, c);
	close_and_wait(f, b);
	close(a);
	close(fd);
	free(r);
}

/* The device is opened once per connection and device; CLEANUP and PR OUT on a new fd mode. */
static void test_server_handle_cache(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, sock2, fd, ro_fd;
	uint8_t cleanup[16] = {0xff};
	unsigned cmds;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ro_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sock = client_connect(f->path);
	send_frame(sock, read_keys_frame, 16, &ro_fd, 1);
	assert_int_equal(recv_reply(sock, r), 8);
	cmds = sgpr_sim_lun_commands(f->lun);
	for (int i = 0; i < 4; i++) {
		send_frame(sock, read_keys_frame, 16, &ro_fd, 1);
		assert_int_equal(recv_reply(sock, r), 8);
	}
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(sgpr_sim_lun_commands(f->lun), cmds + 4); /* one command per request */
	/* PR OUT: the handle from a read-only fd is not used for it */
	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 2);
	send_frame(sock, read_keys_frame, 16, &ro_fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	send_frame(sock, register_frame, 40, &fd, 1); /* same key again: GOOD */
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 2);
	/* another connection has its own */
	sock2 = client_connect(f->path);
	send_frame(sock2, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock2, r), 16);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 3);
	/* CLEANUP drops them */
	send_frame(sock, cleanup, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 16);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 4);
	close(sock);
	close(sock2);
	close(fd);
	close(ro_fd);
	free(r);
}

/* A handle whose command got no answer is dropped and the device opened again; an answer keeps it.
 */
static void test_server_handle_dropped(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, fd;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	/* each handle: its second command answered CHECK CONDITION, its third lost (timeout) */
	f->fault = (struct sgpr_sim_fault){.kind = SGPR_SIM_FAULT_STATUS,
					   .skip = 1,
					   .status = SGPR_STATUS_CHECK_CONDITION,
					   .sense_key = 0x04,
					   .asc = 0x44};
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sock = client_connect(f->path);
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 8);
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x04, 0x44, 0x00)); /* the device's own answer */
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 8);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 1); /* kept */

	f->fault = (struct sgpr_sim_fault){.kind = SGPR_SIM_FAULT_TIMEOUT, .count = UINT_MAX};
	send_frame(sock, (uint8_t[16]){0xff}, 16, &fd, 1); /* CLEANUP: next open gets the fault */
	assert_int_equal(recv_reply(sock, r), 0);
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x0b, 0x2e, 0x02)); /* lost: COMMAND TIMEOUT */
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 2);
	f->fault.kind = SGPR_SIM_FAULT_NONE;
	send_frame(sock, read_keys_frame, 16, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 8);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 3); /* opened again */
	close(sock);
	close(fd);
	free(r);
}

/* A client that sends requests but never reads the replies: closed once a reply cannot go out. */
static void test_server_unread_replies(void **state)
{
	struct fx *f = *state;
	struct prh_server_stats st = {0};
	int sock, fd, sent = 0;
	uint64_t t0;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	f->limits.handshake_timeout_ms = 1000;
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sock = client_connect(f->path);
	assert_int_equal(fcntl(sock, F_SETFL, O_NONBLOCK), 0);
	t0 = now_ms();
	/* requests until both directions are full (the server blocked on a reply) */
	while (now_ms() - t0 < 20000) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control = {};
		struct iovec iov = {.iov_base = (void *)read_keys_frame, .iov_len = 16};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if (sendmsg(sock, &msg, MSG_NOSIGNAL) == 16) {
			sent++;
			continue;
		}
		if (errno != EAGAIN)
			break; /* closed by the server */
		prh_server_get_stats(f->s, &st);
		if (st.stalled)
			break;
		usleep(20000);
	}
	assert_true(sent > 10);
	for (int i = 0; i < 1000 && (st.stalled == 0 || st.active); i++) {
		usleep(10000);
		prh_server_get_stats(f->s, &st);
	}
	assert_int_equal(st.stalled, 1);
	assert_int_equal(st.active, 0);
	assert_true(now_ms() - t0 < 20000);
	close(sock);
	close(fd);
}

/* A client sending bad requests in a loop: at most 5 lines a second, the rest counted. */
static void test_server_log_limit(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, mem_fd;
	unsigned lines;
	uint64_t t0;

	fx_start(f, 0);
	mem_fd = memfd_create("prh", MFD_CLOEXEC);
	sock = client_connect(f->path);
	t0 = now_ms();
	for (int i = 0; i < 50; i++) {
		send_frame(sock, read_keys_frame, 16, &mem_fd, 1);
		assert_int_equal(recv_reply(sock, r), 0);
		assert_true(sense_is(r, 0x05, 0x25, 0x00)); /* every one answered */
	}
	pthread_mutex_lock(&f->lock);
	lines = f->log_lines;
	pthread_mutex_unlock(&f->lock);
	assert_true(lines >= 5);
	assert_true(lines <= 5 * ((now_ms() - t0) / 1000 + 2));
	usleep(1100000);
	send_frame(sock, read_keys_frame, 16, &mem_fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->log_lines, lines + 1);
	assert_non_null(strstr(f->last_log, "on an fd that is not a device ("));
	assert_non_null(strstr(f->last_log, "such lines not logged before)"));
	pthread_mutex_unlock(&f->lock);
	close(sock);
	close(mem_fd);
	free(r);
}

/*
 * The guard (prh-guard.c) as the policy, single path and a two-path map: a guest on this nexus
 * cannot PREEMPT or CLEAR host 1's lease nor register while host 1 holds; once host 1 only is
 * registered the guest registers, and its REGISTER with APTPL=0 reaches the LU with APTPL set
 * (PTPL_A read back), so persistence stays on for sgpr's fence (SPC-4 5.12.5).
 */
static void test_server_guard_aptpl(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	uint8_t frame[64], cdb[10], params[24], reg0[40];
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER, .sa_key = KA}; /* APTPL=0 */
	struct sgpr_dev *host;
	struct sgpr_caps caps;
	uint64_t holder = 0, ka;
	int sock, fd, len;

	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	assert_int_equal(prh_request_encode(cdb, 10, params, (size_t)len, reg0, sizeof(reg0)), 40);
	assert_int_equal(reg0[16 + 20], 0);
	for (unsigned npaths = 1; npaths <= 2; npaths++) {
		f->npaths = npaths;
		f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
		f->guard = true;
		f->guard_ctx =
			(struct prh_guard_ctx){.ns = sgpr_ns_from_cluster("guard"), .host_id = 2};
		ka = sgpr_key_make_lease(f->guard_ctx.ns, 1, 2000, 3);
		assert_false(prh_guard_is_sgpr_key(KA, f->guard_ctx.ns)); /* the guest's key */
		assert_int_equal(
			sgpr_sim_open(f->lun, "iqn.2024-01.test:host1,i,0x400000000009",
				      &(struct sgpr_dev_opts){.size = sizeof(struct sgpr_dev_opts)},
				      &host),
			0);
		assert_int_equal(sgpr_register(host, 0, ka, false, NULL), 0);
		assert_int_equal(sgpr_reserve(host, ka, SGPR_TYPE_WERO, NULL), 0);
		fx_start(f, 0);
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		sock = client_connect(f->path);

		/* host 1 holds: the guest's REGISTER, PREEMPT of ka and CLEAR are refused */
		send_frame(sock, reg0, 40, &fd, 1);
		assert_int_equal(recv_reply(sock, r), 0);
		assert_true(sense_is(r, 0x05, 0x20, 0x00));
		p = (struct sgpr_prout_params){
			.sa = SGPR_PROUT_PREEMPT, .key = KA, .sa_key = ka, .type = SGPR_TYPE_WERO};
		len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
		len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
		send_frame(sock, frame, (size_t)len, &fd, 1);
		assert_int_equal(recv_reply(sock, r), 0);
		assert_true(sense_is(r, 0x05, 0x20, 0x00));
		p = (struct sgpr_prout_params){.sa = SGPR_PROUT_CLEAR, .key = KA};
		len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
		len = prh_request_encode(cdb, 10, params, (size_t)len, frame, sizeof(frame));
		send_frame(sock, frame, (size_t)len, &fd, 1);
		assert_int_equal(recv_reply(sock, r), 0);
		assert_true(sense_is(r, 0x05, 0x20, 0x00));
		assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);
		assert_int_equal(sgpr_sim_lun_reservation(f->lun, &holder), SGPR_TYPE_WERO);
		assert_int_equal(holder, ka);

		/* host 1 releases without parking (a static user): the guest may register */
		assert_int_equal(sgpr_release(host, ka, SGPR_TYPE_WERO, NULL), 0);
		assert_int_equal(sgpr_report_caps(host, &caps, NULL), 0);
		assert_true(caps.ptpl_c);
		assert_true(caps.ptpl_a); /* host 1's REGISTER set it */
		send_frame(sock, reg0, 40, &fd, 1);
		assert_int_equal(recv_reply(sock, r), 0);
		assert_int_equal(r->result, 0);
		assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1 + npaths);
		assert_int_equal(sgpr_report_caps(host, &caps, NULL), 0);
		assert_true(caps.ptpl_a); /* still on */

		/*
		 * host first: closing sock ends the connection thread, which frees its sim
		 * handle on the same (not thread-safe) LUN
		 */
		sgpr_dev_free(host);
		close(sock);
		close(fd);
		f->s = prh_server_free(f->s);
		f->lun = sgpr_sim_lun_free(f->lun);
	}
	free(r);
}

/* The guard's READ KEYS gets no answer: refused, and the handle is dropped as after a command. */
static void test_server_guard_gone(void **state)
{
	struct fx *f = *state;
	struct prh_reply *r = calloc(1, sizeof(*r));
	int sock, fd;

	f->npaths = 1;
	f->lun = sgpr_sim_lun_new(&(struct sgpr_sim_config){0});
	f->guard = true;
	f->guard_ctx = (struct prh_guard_ctx){.ns = sgpr_ns_from_cluster("guard"), .host_id = 2};
	f->fault = (struct sgpr_sim_fault){.kind = SGPR_SIM_FAULT_TIMEOUT, .count = UINT_MAX};
	fx_start(f, 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sock = client_connect(f->path);
	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_true(sense_is(r, 0x0b, 0x00, 0x06)); /* nothing sent blind */
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 1);
	f->fault.kind = SGPR_SIM_FAULT_NONE;
	send_frame(sock, register_frame, 40, &fd, 1);
	assert_int_equal(recv_reply(sock, r), 0);
	assert_int_equal(r->result, 0);
	assert_int_equal(__atomic_load_n(&f->opens, __ATOMIC_SEQ_CST), 2); /* opened again */
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);
	close(sock);
	close(fd);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_prin_request),
		cmocka_unit_test(test_prin_replies),
		cmocka_unit_test(test_prout_register),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_cleanup_request),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cmsg_fds),
		cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_not_scsi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_violations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_sim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_multipath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_guard_aptpl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_guard_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_hung_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_stop_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_tool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_idle_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_half_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_peer_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_abandoned_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_handle_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_handle_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_unread_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_log_limit, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	/* one case in a loop: PRH_TEST_FILTER=test_server_abandoned_bound */
	if (getenv("PRH_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PRH_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
