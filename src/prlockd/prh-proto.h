/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU's pr-manager-helper wire protocol (shared/refs/qemu-pr-helper-protocol.md section 1):
 * a pure codec, no I/O. Every multi-byte field is big-endian.
 *
 *   handshake   S->C u32 supported features, C->S u32 requested features (we advertise 0)
 *   request     16-byte CDB (+ exactly one fd by SCM_RIGHTS on the CDB bytes), then for
 *               PERSISTENT RESERVE OUT the parameter list, its length framed by CDB bytes 7-8
 *   reply       int32 result (SAM status), int32 sz, 96 bytes sense, then sz bytes of PR IN data
 *
 * QEMU asserts on the reply (sz <= allocation length for PR IN, sz == 0 for PR OUT), so every
 * reply goes through prh_reply_sanitize() before prh_reply_encode().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sgpr.h"

#define PRH_CDB_SIZE 16
#define PRH_SENSE_SIZE 96
#define PRH_DATA_MAX 8192
#define PRH_FEATURES_SIZE 4
#define PRH_REPLY_HDR_SIZE (4 + 4 + PRH_SENSE_SIZE) /* 104 */

#define PRH_OP_PRIN 0x5e
#define PRH_OP_PROUT 0x5f
#define PRH_OP_CLEANUP 0xff /* vendor "PR_HELPER_CLEANUP" of the in-flight QEMU series */

/* Feature bits we offer: none (ref 1.1). */
#define PRH_FEATURES_SUPPORTED 0u

/* The basic PR OUT parameter list, SPC-4 6.16.3 */
#define PRH_PROUT_BASIC_LEN 24

enum prh_kind {
	PRH_REQ_PRIN,
	PRH_REQ_PROUT,
	PRH_REQ_CLEANUP,
};

struct prh_request {
	uint8_t cdb[PRH_CDB_SIZE];
	enum prh_kind kind;
	uint8_t sa; /* service action, CDB byte 1 bits 4..0 (0 for CLEANUP) */
	/* PR IN: allocation length; PR OUT: parameter list length; CLEANUP: 0 (CDB bytes 7-8) */
	uint16_t xfer;
	size_t params_len; /* PR OUT parameter bytes held in params (== xfer once complete) */
	uint8_t params[PRH_DATA_MAX];
};

struct prh_reply {
	int32_t result; /* SAM status byte */
	uint32_t sz;	/* data bytes */
	uint8_t sense[PRH_SENSE_SIZE];
	uint8_t data[PRH_DATA_MAX];
};

/* ---- handshake --------------------------------------------------------- */

void prh_features_encode(uint32_t features, uint8_t buf[static PRH_FEATURES_SIZE]);
uint32_t prh_features_decode(const uint8_t buf[static PRH_FEATURES_SIZE]);
/* 0, or -EPROTO if the client asked for a bit we did not offer (the connection is closed). */
int prh_features_check(uint32_t supported, uint32_t requested);

/* ---- requests ---------------------------------------------------------- */

/*
 * Validate the 16 CDB bytes and fill ret->cdb, kind, sa, xfer (params_len 0). Returns the
 * number of parameter bytes that follow the CDB on the stream (0..8192), or:
 *   -EPROTO    opcode other than PR IN, PR OUT, CLEANUP (protocol violation: close)
 *   -EMSGSIZE  transfer length above 8192 (protocol violation: close)
 * Framing is QEMU's scsi_cdb_xfer(): the u16 at CDB bytes 7-8 for both 0x5E and 0x5F.
 */
int prh_request_parse_cdb(const uint8_t cdb[static PRH_CDB_SIZE], struct prh_request *ret);

/*
 * A whole request frame as it travels on the stream (CDB, then parameters). Returns the
 * bytes consumed, -EAGAIN if buf is shorter than the frame (short read), or the errors of
 * prh_request_parse_cdb().
 */
int prh_request_decode(const uint8_t *buf, size_t len, struct prh_request *ret);

/*
 * Client side: a CDB of cdb_len (1..16) bytes, zero-padded to 16 as QEMU does, and the PR OUT
 * parameters. Returns the frame length (16 + params_len), -EINVAL if cdb_len is out of range or
 * params_len disagrees with the CDB's framing (PR OUT: must equal bytes 7-8; others: 0),
 * -EMSGSIZE above 8192, -ENOBUFS if buf is too small. The opcode itself is not checked, so
 * tests can build bad frames.
 */
int prh_request_encode(const uint8_t *cdb, size_t cdb_len, const uint8_t *params, size_t params_len,
		       uint8_t *buf, size_t buflen);

/*
 * The file descriptors of SCM_RIGHTS messages in msg: stores up to max of them in fds and
 * returns how many there were in total (the caller closes every one it got, including those
 * beyond max when it passes a large enough array). A header whose length runs past
 * msg_controllen ends the walk. MSG_CTRUNC in msg->msg_flags is not looked at here.
 */
unsigned prh_cmsg_fds(const struct msghdr *msg, int *fds, unsigned max);
/* A request carries exactly one fd: 0, or -EPROTO for none or several (close the connection). */
int prh_check_nfds(unsigned nfds);

/*
 * The basic PR OUT parameter list (24 bytes, SPC-4 6.16.3) and CDB as sgpr_prout_params, for
 * the multipath fan-out. -EBADMSG if the list is not exactly 24 bytes (a SPEC_I_PT list or a
 * length error), -EINVAL for REGISTER AND MOVE (other layout) or a request that is not PR OUT.
 * tids are never set.
 */
int prh_prout_decode(const struct prh_request *req, struct sgpr_prout_params *ret);
/* SPC-4 6.16.3: SPEC_I_PT (bit 3), ALL_TG_PT (bit 2), APTPL (bit 0) of byte 20. */
#define PRH_PROUT_SPEC_I_PT 0x08
#define PRH_PROUT_ALL_TG_PT 0x04
#define PRH_PROUT_APTPL 0x01

/* ---- replies ----------------------------------------------------------- */

/* GOOD, no data, sense zeroed. */
void prh_reply_good(struct prh_reply *r);
/* A status without sense (RESERVATION CONFLICT, BUSY, ...), no data. */
void prh_reply_status(struct prh_reply *r, uint8_t status);
/* CHECK CONDITION with fixed-format sense (0x70, key, additional length 10, ASC, ASCQ). */
void prh_reply_check_condition(struct prh_reply *r, uint8_t key, uint8_t asc, uint8_t ascq);

/*
 * Make the reply safe for QEMU: data only for PR IN with GOOD status, never longer than the
 * allocation length; sense zeroed unless CHECK CONDITION. Returns true if it had to change
 * something (worth a log line: it is a bug or a device that sent more than it was asked for).
 */
bool prh_reply_sanitize(struct prh_reply *r, const struct prh_request *req);

/*
 * The reply as sent: 104-byte header followed by sz data bytes. Returns the frame length, or
 * -ENOBUFS if buflen is too small, -EINVAL if sz > 8192.
 */
int prh_reply_encode(const struct prh_reply *r, uint8_t *buf, size_t buflen);

/*
 * Client side: the 104-byte header into r (data untouched). Returns the number of data bytes
 * that follow, or -EBADMSG if sz is negative or above 8192.
 */
int prh_reply_decode_header(const uint8_t hdr[static PRH_REPLY_HDR_SIZE], struct prh_reply *r);

/*
 * What QEMU checks on a reply to req: -EPROTO if sz is nonzero for anything but PR IN, or
 * larger than the allocation length, or nonzero with a status other than GOOD.
 */
int prh_reply_check(const struct prh_request *req, const struct prh_reply *r);
