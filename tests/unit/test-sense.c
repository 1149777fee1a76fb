/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sense parsing (SPC-4 4.5), status text, and the classification table row by row. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

static void check_sense(const uint8_t *b, size_t len, uint8_t rc, uint8_t key, uint8_t asc,
			uint8_t ascq, bool deferred)
{
	struct sgpr_sense s;

	memset(&s, 0xaa, sizeof(s));
	assert_int_equal(sgpr_sense_parse(b, len, &s), 0);
	assert_int_equal(s.response_code, rc);
	assert_int_equal(s.key, key);
	assert_int_equal(s.asc, asc);
	assert_int_equal(s.ascq, ascq);
	assert_int_equal(s.deferred, deferred);
}

static void test_fixed(void **state)
{
	/* fixed format, ILLEGAL REQUEST 24/00, ADDITIONAL SENSE LENGTH 10 */
	/* clang-format off */
	static const uint8_t ir[18] = {
		0x70, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x0a,
		0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	/* VALID bit set, deferred, UNIT ATTENTION 2a/03; upper nibble of byte 2 holds flags */
	/* clang-format off */
	static const uint8_t ua[18] = {
		0xf1, 0x00, 0xe6, 0x00, 0x00, 0x00, 0x00, 0x0a,
		0x00, 0x00, 0x00, 0x00, 0x2a, 0x03, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	uint8_t b[18];

	check_sense(ir, sizeof(ir), 0x70, 5, 0x24, 0x00, false);
	check_sense(ua, sizeof(ua), 0x71, 6, 0x2a, 0x03, true);

	/* truncated buffers: ASC/ASCQ only when received */
	check_sense(ua, 14, 0x71, 6, 0x2a, 0x03, true);
	check_sense(ua, 13, 0x71, 6, 0x2a, 0x00, true);
	check_sense(ua, 12, 0x71, 6, 0x00, 0x00, true);
	check_sense(ua, 8, 0x71, 6, 0x00, 0x00, true);
	check_sense(ua, 3, 0x71, 6, 0x00, 0x00, true);

	/* ADDITIONAL SENSE LENGTH must cover them too */
	memcpy(b, ua, sizeof(b));
	b[7] = 4; /* up to byte 11 */
	check_sense(b, sizeof(b), 0x71, 6, 0x00, 0x00, true);
	b[7] = 5; /* up to byte 12 */
	check_sense(b, sizeof(b), 0x71, 6, 0x2a, 0x00, true);
	b[7] = 6;
	check_sense(b, sizeof(b), 0x71, 6, 0x2a, 0x03, true);
	b[7] = 0xff; /* more than received: bounded by len */
	check_sense(b, 14, 0x71, 6, 0x2a, 0x03, true);
}

static void test_descriptor(void **state)
{
	static const uint8_t ua[8] = {0x72, 0x06, 0x2a, 0x03, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t nr[4] = {0xf3, 0xf2, 0x04, 0x01};

	check_sense(ua, sizeof(ua), 0x72, 6, 0x2a, 0x03, false);
	check_sense(nr, sizeof(nr), 0x73, 2, 0x04, 0x01, true);
	check_sense(ua, 3, 0x72, 6, 0x2a, 0x00, false);
	check_sense(ua, 2, 0x72, 6, 0x00, 0x00, false);
}

static void test_bad_sense(void **state)
{
	static const uint8_t fixed[18] = {0x70, 0x00, 0x05};
	static const uint8_t desc[8] = {0x72, 0x06};
	static const uint8_t other[][18] = {{0x00}, {0x7f}, {0x74}, {0x6f}, {0x80}};
	struct sgpr_sense s, ref;

	memset(&s, 0xaa, sizeof(s));
	memset(&ref, 0xaa, sizeof(ref));
	assert_int_equal(sgpr_sense_parse(fixed, 0, &s), -EBADMSG);
	assert_int_equal(sgpr_sense_parse(fixed, 2, &s), -EBADMSG);
	assert_int_equal(sgpr_sense_parse(desc, 1, &s), -EBADMSG);
	assert_int_equal(sgpr_sense_parse(NULL, 18, &s), -EBADMSG);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(sgpr_sense_parse(other[i], 18, &s), -EBADMSG);
	assert_memory_equal(&s, &ref, sizeof(s));
	assert_int_equal(sgpr_sense_parse(fixed, 18, NULL), -EBADMSG);
}

static void test_key_names(void **state)
{
	assert_string_equal(sgpr_sense_key_name(0x0), "NO SENSE");
	assert_string_equal(sgpr_sense_key_name(0x2), "NOT READY");
	assert_string_equal(sgpr_sense_key_name(0x5), "ILLEGAL REQUEST");
	assert_string_equal(sgpr_sense_key_name(0x6), "UNIT ATTENTION");
	assert_string_equal(sgpr_sense_key_name(0x7), "DATA PROTECT");
	assert_string_equal(sgpr_sense_key_name(0xb), "ABORTED COMMAND");
	assert_string_equal(sgpr_sense_key_name(0xf), "COMPLETED");
	for (unsigned k = 0; k < 256; k++)
		assert_non_null(sgpr_sense_key_name((uint8_t)k));
}

/* A status with fixed-format sense; decoded through sgpr_status_decode_sense(). */
static struct sgpr_status cc(uint8_t key, uint8_t asc, uint8_t ascq)
{
	struct sgpr_status st = {.answered = true, .status = SGPR_STATUS_CHECK_CONDITION};

	st.sense[0] = 0x70;
	st.sense[2] = key;
	st.sense[7] = 10;
	st.sense[12] = asc;
	st.sense[13] = ascq;
	st.sense_len = 18;
	sgpr_status_decode_sense(&st);
	return st;
}

static struct sgpr_status plain(uint8_t status)
{
	return (struct sgpr_status){.answered = true, .status = status};
}

static void row(struct sgpr_status st, enum sgpr_disposition disp, int err)
{
	assert_int_equal(sgpr_status_disposition(&st), disp);
	assert_int_equal(sgpr_status_to_errno(&st), err);
}

static void test_classification(void **state)
{
	struct sgpr_status st;

	/* not answered: a transport failure, not a target's answer (-EIO) */
	row((struct sgpr_status){.answered = false}, SGPR_DISP_DONE, -ECOMM);
	row((struct sgpr_status){.answered = false, .status = SGPR_STATUS_BUSY}, SGPR_DISP_DONE,
	    -ECOMM);
	/* statuses */
	row(plain(SGPR_STATUS_GOOD), SGPR_DISP_DONE, 0);
	row(plain(0x04), SGPR_DISP_DONE, 0); /* CONDITION MET */
	row(plain(SGPR_STATUS_RESERVATION_CONFLICT), SGPR_DISP_DONE, -EBADE);
	row(plain(SGPR_STATUS_BUSY), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(plain(SGPR_STATUS_TASK_SET_FULL), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(plain(0x40), SGPR_DISP_RETRY_BUSY, -EAGAIN); /* TASK ABORTED */
	row(plain(0x30), SGPR_DISP_DONE, -EIO);		 /* ACA ACTIVE */
	row(plain(0x22), SGPR_DISP_DONE, -EIO);		 /* obsolete COMMAND TERMINATED */
	/* CHECK CONDITION without sense, or with undecodable sense */
	row(plain(SGPR_STATUS_CHECK_CONDITION), SGPR_DISP_DONE, -EIO);
	st = plain(SGPR_STATUS_CHECK_CONDITION);
	st.sense[0] = 0x7f;
	st.sense_len = 18;
	sgpr_status_decode_sense(&st);
	assert_false(st.sense_valid);
	row(st, SGPR_DISP_DONE, -EIO);
	/* NO SENSE, RECOVERED ERROR */
	row(cc(0x0, 0x00, 0x00), SGPR_DISP_DONE, 0);
	row(cc(0x1, 0x5d, 0x00), SGPR_DISP_DONE, 0);
	/* NOT READY */
	row(cc(0x2, 0x04, 0x01), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(cc(0x2, 0x04, 0x07), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(cc(0x2, 0x04, 0x0a), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(cc(0x2, 0x04, 0x00), SGPR_DISP_DONE, -EIO);
	row(cc(0x2, 0x04, 0x02), SGPR_DISP_DONE, -EIO);
	row(cc(0x2, 0x04, 0x03), SGPR_DISP_DONE, -EIO);
	row(cc(0x2, 0x04, 0x0b), SGPR_DISP_DONE, -EIO);
	row(cc(0x2, 0x3a, 0x00), SGPR_DISP_DONE, -ENOMEDIUM);
	row(cc(0x2, 0x3a, 0x02), SGPR_DISP_DONE, -ENOMEDIUM);
	/* ILLEGAL REQUEST */
	row(cc(0x5, 0x20, 0x00), SGPR_DISP_DONE, -EOPNOTSUPP);
	row(cc(0x5, 0x24, 0x00), SGPR_DISP_DONE, -EOPNOTSUPP);
	row(cc(0x5, 0x26, 0x00), SGPR_DISP_DONE, -EOPNOTSUPP);
	row(cc(0x5, 0x26, 0x04), SGPR_DISP_DONE, -EINVAL);
	row(cc(0x5, 0x26, 0x02), SGPR_DISP_DONE, -EINVAL);
	row(cc(0x5, 0x1a, 0x00), SGPR_DISP_DONE, -EINVAL);
	row(cc(0x5, 0x25, 0x00), SGPR_DISP_DONE, -EINVAL);
	row(cc(0x5, 0x24, 0x01), SGPR_DISP_DONE, -EINVAL);
	/* UNIT ATTENTION, any ASC */
	row(cc(0x6, 0x29, 0x00), SGPR_DISP_RETRY_UA, -EAGAIN);
	row(cc(0x6, 0x2a, 0x03), SGPR_DISP_RETRY_UA, -EAGAIN);
	row(cc(0x6, 0x2a, 0x04), SGPR_DISP_RETRY_UA, -EAGAIN);
	row(cc(0x6, 0x2a, 0x05), SGPR_DISP_RETRY_UA, -EAGAIN);
	row(cc(0x6, 0x3f, 0x0e), SGPR_DISP_RETRY_UA, -EAGAIN);
	/* DATA PROTECT, ABORTED COMMAND, the rest */
	row(cc(0x7, 0x27, 0x00), SGPR_DISP_DONE, -EROFS);
	row(cc(0xb, 0x47, 0x00), SGPR_DISP_RETRY_BUSY, -EAGAIN);
	row(cc(0x3, 0x11, 0x00), SGPR_DISP_DONE, -EIO);
	row(cc(0x4, 0x44, 0x00), SGPR_DISP_DONE, -EIO);
	row(cc(0xe, 0x1d, 0x00), SGPR_DISP_DONE, -EIO);

	/* descriptor-format sense works the same */
	st = plain(SGPR_STATUS_CHECK_CONDITION);
	memcpy(st.sense, (uint8_t[]){0x72, 0x05, 0x24, 0x00}, 4);
	st.sense_len = 8;
	sgpr_status_decode_sense(&st);
	row(st, SGPR_DISP_DONE, -EOPNOTSUPP);

	/* raw sense not yet decoded is used as well */
	st = plain(SGPR_STATUS_CHECK_CONDITION);
	memcpy(st.sense, (uint8_t[]){0x72, 0x06, 0x29, 0x00}, 4);
	st.sense_len = 4;
	row(st, SGPR_DISP_RETRY_UA, -EAGAIN);

	/* NULL */
	assert_int_equal(sgpr_status_to_errno(NULL), -ECOMM);
	assert_int_equal(sgpr_status_disposition(NULL), SGPR_DISP_DONE);
}

static void test_decode_sense(void **state)
{
	struct sgpr_status st = cc(0x6, 0x2a, 0x03);

	assert_true(st.sense_valid);
	assert_int_equal(st.sense_key, 6);
	assert_int_equal(st.asc, 0x2a);
	assert_int_equal(st.ascq, 0x03);

	/* garbage clears a stale decode */
	st.sense[0] = 0x00;
	sgpr_status_decode_sense(&st);
	assert_false(st.sense_valid);
	assert_int_equal(st.sense_key, 0);
	assert_int_equal(st.asc, 0);

	/* an impossible sense_len is clamped to the buffer */
	st = cc(0x5, 0x24, 0x00);
	st.sense_len = 0xffff;
	sgpr_status_decode_sense(&st);
	assert_true(st.sense_valid);
	assert_int_equal(st.asc, 0x24);

	st.sense_len = 0;
	sgpr_status_decode_sense(&st);
	assert_false(st.sense_valid);
	sgpr_status_decode_sense(NULL);
}

static void check_describe(struct sgpr_status st, const char *want)
{
	char buf[160];

	assert_ptr_equal(sgpr_status_describe(&st, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

static void test_describe(void **state)
{
	struct sgpr_status st;
	char small[8];

	check_describe((struct sgpr_status){.answered = false},
		       "no status (command did not complete)");
	check_describe(plain(SGPR_STATUS_GOOD), "GOOD");
	check_describe(plain(SGPR_STATUS_RESERVATION_CONFLICT), "RESERVATION CONFLICT");
	check_describe(plain(SGPR_STATUS_BUSY), "BUSY");
	check_describe(plain(SGPR_STATUS_TASK_SET_FULL), "TASK SET FULL");
	check_describe(plain(0x40), "TASK ABORTED");
	check_describe(plain(0x7e), "status 0x7e");
	check_describe(plain(SGPR_STATUS_CHECK_CONDITION), "CHECK CONDITION (no sense data)");
	check_describe(cc(0x5, 0x24, 0x00), "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)");
	check_describe(cc(0x5, 0x20, 0x00),
		       "ILLEGAL REQUEST: INVALID COMMAND OPERATION CODE (20/00)");
	check_describe(cc(0x5, 0x26, 0x04),
		       "ILLEGAL REQUEST: INVALID RELEASE OF PERSISTENT RESERVATION (26/04)");
	check_describe(cc(0x6, 0x2a, 0x03), "UNIT ATTENTION: RESERVATIONS PREEMPTED (2a/03)");
	check_describe(cc(0x6, 0x2a, 0x05), "UNIT ATTENTION: REGISTRATIONS PREEMPTED (2a/05)");
	check_describe(cc(0x6, 0x29, 0x00),
		       "UNIT ATTENTION: POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29/00)");
	check_describe(cc(0x6, 0x3f, 0x0e),
		       "UNIT ATTENTION: REPORTED LUNS DATA HAS CHANGED (3f/0e)");
	check_describe(cc(0x2, 0x04, 0x0a),
		       "NOT READY: LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE "
		       "TRANSITION (04/0a)");
	check_describe(cc(0x2, 0x3a, 0x00), "NOT READY: MEDIUM NOT PRESENT (3a/00)");
	check_describe(cc(0x7, 0x27, 0x00), "DATA PROTECT: WRITE PROTECTED (27/00)");
	check_describe(cc(0x5, 0x99, 0x01), "ILLEGAL REQUEST (99/01)");

	/* deferred, from raw descriptor sense */
	st = plain(SGPR_STATUS_CHECK_CONDITION);
	memcpy(st.sense, (uint8_t[]){0x73, 0x0b, 0x47, 0x00}, 4);
	st.sense_len = 4;
	check_describe(st, "ABORTED COMMAND (47/00) (deferred)");

	/* truncation and bad arguments */
	st = cc(0x5, 0x24, 0x00);
	assert_ptr_equal(sgpr_status_describe(&st, small, sizeof(small)), small);
	assert_string_equal(small, "ILLEGAL");
	assert_null(sgpr_status_describe(&st, small, 0));
	assert_null(sgpr_status_describe(NULL, small, sizeof(small)));
	assert_null(sgpr_status_describe(&st, NULL, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),	       cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_bad_sense),      cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_classification), cmocka_unit_test(test_decode_sense),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
