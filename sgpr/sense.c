/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sense data (SPC-4 4.5) and the one classification of a command outcome
 * (SAM-5 5.3 status codes) that every other part of libsgpr uses. Pure, no I/O.
 */
#include <stdio.h>

#include "sgpr-private.h"

#define STATUS_CONDITION_MET 0x04
#define STATUS_ACA_ACTIVE 0x30
#define STATUS_TASK_ABORTED 0x40

/* SPC-4 4.5.6 table 47 */
enum {
	SK_NO_SENSE = 0x0,
	SK_RECOVERED_ERROR = 0x1,
	SK_NOT_READY = 0x2,
	SK_MEDIUM_ERROR = 0x3,
	SK_HARDWARE_ERROR = 0x4,
	SK_ILLEGAL_REQUEST = 0x5,
	SK_UNIT_ATTENTION = 0x6,
	SK_DATA_PROTECT = 0x7,
	SK_ABORTED_COMMAND = 0xb,
};

/**
 * sgpr_sense_parse() - decode the response code, key, ASC and ASCQ
 * @buf: sense bytes
 * @len: number of sense bytes
 * @ret: the result (written only on success)
 *
 * Fixed format (70h/71h, SPC-4 4.5.3): key in byte 2, ASC/ASCQ in bytes 12/13
 * when both len and ADDITIONAL SENSE LENGTH (byte 7) cover them, else 0.
 * Descriptor format (72h/73h, SPC-4 4.5.2): key, ASC, ASCQ in bytes 1-3.
 *
 * Return: 0, or -EBADMSG for another response code or too few bytes for the key.
 */
int sgpr_sense_parse(const uint8_t *buf, size_t len, struct sgpr_sense *ret)
{
	struct sgpr_sense s = {};

	if (!buf || !ret || len < 1)
		return -EBADMSG;
	s.response_code = buf[0] & 0x7f; /* bit 7 is VALID (fixed) or reserved */

	switch (s.response_code) {
	case 0x70:
	case 0x71:
		if (len < 3)
			return -EBADMSG;
		s.key = buf[2] & 0x0f;
		if (len >= 8) {
			/* last byte covered by ADDITIONAL SENSE LENGTH */
			size_t end = (size_t)8 + buf[7];

			if (len > 12 && end > 12)
				s.asc = buf[12];
			if (len > 13 && end > 13)
				s.ascq = buf[13];
		}
		s.deferred = s.response_code == 0x71;
		break;
	case 0x72:
	case 0x73:
		if (len < 2)
			return -EBADMSG;
		s.key = buf[1] & 0x0f;
		if (len > 2)
			s.asc = buf[2];
		if (len > 3)
			s.ascq = buf[3];
		s.deferred = s.response_code == 0x73;
		break;
	default:
		return -EBADMSG;
	}
	*ret = s;
	return 0;
}

/**
 * sgpr_sense_key_name() - SPC-4 4.5.6 table 47 name of a sense key
 * @key: sense key
 *
 * Return: a static string, never NULL.
 */
const char *sgpr_sense_key_name(uint8_t key)
{
	/* clang-format off */
	static const char *const names[16] = {
		[0x0] = "NO SENSE",
		[0x1] = "RECOVERED ERROR",
		[0x2] = "NOT READY",
		[0x3] = "MEDIUM ERROR",
		[0x4] = "HARDWARE ERROR",
		[0x5] = "ILLEGAL REQUEST",
		[0x6] = "UNIT ATTENTION",
		[0x7] = "DATA PROTECT",
		[0x8] = "BLANK CHECK",
		[0x9] = "VENDOR SPECIFIC",
		[0xa] = "COPY ABORTED",
		[0xb] = "ABORTED COMMAND",
		[0xc] = "RESERVED (0CH)",
		[0xd] = "VOLUME OVERFLOW",
		[0xe] = "MISCOMPARE",
		[0xf] = "COMPLETED",
	};
	/* clang-format on */

	return key < 16 ? names[key] : "UNKNOWN SENSE KEY";
}

/* SPC-4 D.2 table D.1: the ASC/ASCQ codes a PR client meets. */
static const struct {
	uint8_t asc, ascq;
	const char *text;
} asc_table[] = {
	{0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
	{0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
	{0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
	{0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"},
	{0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"},
	{0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"},
	{0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"},
	{0x04, 0x09, "LOGICAL UNIT NOT READY, SELF-TEST IN PROGRESS"},
	{0x04, 0x0a, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION"},
	{0x04, 0x0b, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE"},
	{0x04, 0x0c, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE"},
	{0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"},
	{0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
	{0x24, 0x00, "INVALID FIELD IN CDB"},
	{0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
	{0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
	{0x26, 0x01, "PARAMETER NOT SUPPORTED"},
	{0x26, 0x02, "PARAMETER VALUE INVALID"},
	{0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION"},
	{0x27, 0x00, "WRITE PROTECTED"},
	{0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"},
	{0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
	{0x29, 0x01, "POWER ON OCCURRED"},
	{0x29, 0x02, "SCSI BUS RESET OCCURRED"},
	{0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"},
	{0x29, 0x04, "DEVICE INTERNAL RESET"},
	{0x29, 0x05, "TRANSCEIVER MODE CHANGED TO SINGLE-ENDED"},
	{0x29, 0x06, "TRANSCEIVER MODE CHANGED TO LVD"},
	{0x29, 0x07, "I_T NEXUS LOSS OCCURRED"},
	{0x2a, 0x01, "MODE PARAMETERS CHANGED"},
	{0x2a, 0x02, "LOG PARAMETERS CHANGED"},
	{0x2a, 0x03, "RESERVATIONS PREEMPTED"},
	{0x2a, 0x04, "RESERVATIONS RELEASED"},
	{0x2a, 0x05, "REGISTRATIONS PREEMPTED"},
	{0x2a, 0x06, "ASYMMETRIC ACCESS STATE CHANGED"},
	{0x2a, 0x09, "CAPACITY DATA HAS CHANGED"},
	{0x2c, 0x00, "COMMAND SEQUENCE ERROR"},
	{0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"},
	{0x3a, 0x00, "MEDIUM NOT PRESENT"},
	{0x3f, 0x03, "INQUIRY DATA HAS CHANGED"},
	{0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"},
	{0x44, 0x00, "INTERNAL TARGET FAILURE"},
	{0x55, 0x03, "INSUFFICIENT RESOURCES"},
};

static const char *asc_text(uint8_t asc, uint8_t ascq)
{
	for (size_t i = 0; i < sizeof(asc_table) / sizeof(asc_table[0]); i++)
		if (asc_table[i].asc == asc && asc_table[i].ascq == ascq)
			return asc_table[i].text;
	return NULL;
}

/* Key/ASC/ASCQ of st: the decoded fields, or the raw sense when not yet decoded. */
static bool status_sense(const struct sgpr_status *st, struct sgpr_sense *ret)
{
	if (st->sense_valid) {
		*ret = (struct sgpr_sense){.key = st->sense_key, .asc = st->asc, .ascq = st->ascq};
		return true;
	}
	if (st->sense_len == 0)
		return false;
	return sgpr_sense_parse(st->sense,
				st->sense_len < SGPR_SENSE_MAX ? st->sense_len : SGPR_SENSE_MAX,
				ret) == 0;
}

/**
 * sgpr_status_decode_sense() - fill sense_valid/sense_key/asc/ascq from sense[]
 * @st: the status; sense_len is clamped to SGPR_SENSE_MAX
 */
void sgpr_status_decode_sense(struct sgpr_status *st)
{
	struct sgpr_sense s;
	size_t n;

	if (!st)
		return;
	n = st->sense_len < SGPR_SENSE_MAX ? st->sense_len : SGPR_SENSE_MAX;
	if (n && sgpr_sense_parse(st->sense, n, &s) == 0) {
		st->sense_valid = true;
		st->sense_key = s.key;
		st->asc = s.asc;
		st->ascq = s.ascq;
	} else {
		st->sense_valid = false;
		st->sense_key = st->asc = st->ascq = 0;
	}
}

/* clang-format off */
/*
 * The classification table: disposition of one attempt, and the errno once
 * retries are exhausted or for a final outcome (errclass.c gives each errno
 * its one meaning and kind).
 *
 *  outcome                              disp        errno        why
 *  not answered (no status)             DONE        -ECOMM       a transport failure; transports
 *                                                                report their own -errno
 *  GOOD, CONDITION MET                  DONE        0            SAM-5 5.3.1: completed
 *  RESERVATION CONFLICT                 DONE        -EBADE       SPC-4 5.12.3: not executed
 *  BUSY, TASK SET FULL                  RETRY_BUSY  -EAGAIN      SAM-5 5.3.1: not executed
 *  TASK ABORTED                         RETRY_BUSY  -EAGAIN      SAM-5 5.3.1: another nexus aborted it
 *  other status (ACA ACTIVE, ...)       DONE        -EIO
 *  CHECK CONDITION, no usable sense     DONE        -EIO         nothing to act on
 *  NO SENSE, RECOVERED ERROR            DONE        0            SPC-4 4.5.6 table 47: completed
 *  NOT READY 04/01, 04/07, 04/0a        RETRY_BUSY  -EAGAIN      becoming ready, op in progress,
 *                                                                ALUA transition
 *  NOT READY 3a/xx                      DONE        -ENOMEDIUM   medium not present
 *  other NOT READY                      DONE        -EIO         needs intervention
 *  ILLEGAL REQUEST 20/00, 24/00, 26/00  DONE        -EOPNOTSUPP  unsupported SA or bit (tgt: 24/00)
 *  other ILLEGAL REQUEST (26/04, ...)   DONE        -EINVAL      the request itself is wrong
 *  UNIT ATTENTION                       RETRY_UA    -EAGAIN      SAM-5 5.14: not executed, resend
 *  DATA PROTECT                         DONE        -EROFS       SPC-4 4.5.6 table 47
 *  ABORTED COMMAND                      RETRY_BUSY  -EAGAIN      SPC-4 4.5.6: may succeed if retried
 *  other sense keys                     DONE        -EIO         medium or hardware error, ...
 */
/* clang-format on */
static enum sgpr_disposition classify(const struct sgpr_status *st, int *ret_errno)
{
	struct sgpr_sense s;

	if (!st || !st->answered) {
		*ret_errno = -ECOMM;
		return SGPR_DISP_DONE;
	}
	*ret_errno = -EIO;

	switch (st->status) {
	case SGPR_STATUS_GOOD:
	case STATUS_CONDITION_MET:
		*ret_errno = 0;
		return SGPR_DISP_DONE;
	case SGPR_STATUS_RESERVATION_CONFLICT:
		*ret_errno = -EBADE;
		return SGPR_DISP_DONE;
	case SGPR_STATUS_BUSY:
	case SGPR_STATUS_TASK_SET_FULL:
	case STATUS_TASK_ABORTED:
		*ret_errno = -EAGAIN;
		return SGPR_DISP_RETRY_BUSY;
	case SGPR_STATUS_CHECK_CONDITION:
		break;
	default:
		return SGPR_DISP_DONE;
	}

	if (!status_sense(st, &s))
		return SGPR_DISP_DONE;

	switch (s.key) {
	case SK_NO_SENSE:
	case SK_RECOVERED_ERROR:
		*ret_errno = 0;
		return SGPR_DISP_DONE;
	case SK_NOT_READY:
		if (s.asc == 0x04 && (s.ascq == 0x01 || s.ascq == 0x07 || s.ascq == 0x0a)) {
			*ret_errno = -EAGAIN;
			return SGPR_DISP_RETRY_BUSY;
		}
		if (s.asc == 0x3a)
			*ret_errno = -ENOMEDIUM;
		return SGPR_DISP_DONE;
	case SK_ILLEGAL_REQUEST:
		if (s.ascq == 0x00 && (s.asc == 0x20 || s.asc == 0x24 || s.asc == 0x26))
			*ret_errno = -EOPNOTSUPP;
		else
			*ret_errno = -EINVAL;
		return SGPR_DISP_DONE;
	case SK_UNIT_ATTENTION:
		*ret_errno = -EAGAIN;
		return SGPR_DISP_RETRY_UA;
	case SK_DATA_PROTECT:
		*ret_errno = -EROFS;
		return SGPR_DISP_DONE;
	case SK_ABORTED_COMMAND:
		*ret_errno = -EAGAIN;
		return SGPR_DISP_RETRY_BUSY;
	default:
		return SGPR_DISP_DONE;
	}
}

/**
 * sgpr_status_disposition() - resend, or done
 * @st: outcome of one attempt
 *
 * Return: SGPR_DISP_RETRY_UA, SGPR_DISP_RETRY_BUSY or SGPR_DISP_DONE (see the table above).
 */
enum sgpr_disposition sgpr_status_disposition(const struct sgpr_status *st)
{
	int r;

	return classify(st, &r);
}

/**
 * sgpr_status_to_errno() - errno of a final outcome
 * @st: outcome of the last attempt
 *
 * Return: 0 or a negative errno from the table above.
 */
int sgpr_status_to_errno(const struct sgpr_status *st)
{
	int r;

	classify(st, &r);
	return r;
}

static const char *status_name(uint8_t status)
{
	switch (status) {
	case SGPR_STATUS_GOOD:
		return "GOOD";
	case SGPR_STATUS_CHECK_CONDITION:
		return "CHECK CONDITION";
	case STATUS_CONDITION_MET:
		return "CONDITION MET";
	case SGPR_STATUS_BUSY:
		return "BUSY";
	case SGPR_STATUS_RESERVATION_CONFLICT:
		return "RESERVATION CONFLICT";
	case SGPR_STATUS_TASK_SET_FULL:
		return "TASK SET FULL";
	case STATUS_ACA_ACTIVE:
		return "ACA ACTIVE";
	case STATUS_TASK_ABORTED:
		return "TASK ABORTED";
	default:
		return NULL;
	}
}

/**
 * sgpr_status_describe() - one line of text for an outcome
 * @st: outcome
 * @buf: destination
 * @len: size of @buf; the text is truncated to fit
 *
 * "RESERVATION CONFLICT", "BUSY", "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)",
 * "UNIT ATTENTION: RESERVATIONS PREEMPTED (2a/03)", "CHECK CONDITION (no sense data)",
 * "no status (command did not complete)".
 *
 * Return: @buf, or NULL if @st or @buf is NULL or @len is 0.
 */
char *sgpr_status_describe(const struct sgpr_status *st, char *buf, size_t len)
{
	struct sgpr_sense s;
	const char *name, *text;

	if (!st || !buf || len == 0)
		return NULL;

	if (!st->answered) {
		snprintf(buf, len, "no status (command did not complete)");
		return buf;
	}
	name = status_name(st->status);
	if (st->status != SGPR_STATUS_CHECK_CONDITION) {
		if (name)
			snprintf(buf, len, "%s", name);
		else
			snprintf(buf, len, "status 0x%02x", st->status);
		return buf;
	}
	if (!status_sense(st, &s)) {
		snprintf(buf, len, "CHECK CONDITION (no sense data)");
		return buf;
	}
	text = asc_text(s.asc, s.ascq);
	snprintf(buf, len, "%s%s%s (%02x/%02x)%s", sgpr_sense_key_name(s.key), text ? ": " : "",
		 text ?: "", s.asc, s.ascq, s.deferred ? " (deferred)" : "");
	return buf;
}
