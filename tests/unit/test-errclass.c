/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The error classification (sgpr/errclass.c, src/shared/errors.c): every errno libsgpr
 * returns maps to its documented kind, exit code, control-protocol word and phrase; every
 * errno that appears in sgpr/ has a row here; and an error gives the same exit code whether
 * prlock maps it itself (acquire --static) or through prlockd's error word (acquire).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <setjmp.h>
#include <cmocka.h>

#include "errors.h"
#include "sgpr.h"

#define ROW(e, kind, code, word)                                                                   \
	{                                                                                          \
		e, #e, SGPR_ERR_##kind, code, word                                                 \
	}

/* The documented table: docs/prlock.md "Errors", sgpr/errclass.c */
static const struct row {
	int errnum;
	const char *name;
	enum sgpr_err_kind kind;
	int exit_code;
	const char *word;
} rows[] = {
	ROW(EBADE, CONFLICT, 3, "conflict"),
	ROW(EOPNOTSUPP, UNSUPPORTED, 4, "unsupported"),
	ROW(ENOTTY, UNSUPPORTED, 4, "unsupported"),
	ROW(EINVAL, USAGE, 2, "usage"),
	ROW(ENOTBLK, USAGE, 2, "usage"),
	ROW(ENOTCONN, UNREACHABLE, 5, "unreachable"),
	ROW(ETIMEDOUT, UNREACHABLE, 5, "unreachable"),
	ROW(ECONNREFUSED, UNREACHABLE, 5, "unreachable"),
	ROW(ECONNRESET, UNREACHABLE, 5, "unreachable"),
	ROW(EHOSTUNREACH, UNREACHABLE, 5, "unreachable"),
	ROW(ENETUNREACH, UNREACHABLE, 5, "unreachable"),
	ROW(ECOMM, UNREACHABLE, 5, "unreachable"),
	ROW(ENXIO, UNREACHABLE, 5, "unreachable"),
	ROW(EHOSTDOWN, UNREACHABLE, 5, "unreachable"),
	ROW(ENOENT, UNREACHABLE, 5, "unreachable"),
	ROW(ENODEV, UNREACHABLE, 5, "unreachable"),
	ROW(EACCES, UNREACHABLE, 5, "unreachable"),
	ROW(EAGAIN, UNREACHABLE, 5, "unreachable"),
	ROW(EPROTONOSUPPORT, UNREACHABLE, 5, "unreachable"),
	ROW(EIO, RUNTIME, 1, "error"),
	ROW(EPERM, RUNTIME, 1, "error"),
	ROW(EROFS, RUNTIME, 1, "error"),
	ROW(ENOMEDIUM, RUNTIME, 1, "error"),
	ROW(EBADMSG, RUNTIME, 1, "error"),
	ROW(EOVERFLOW, RUNTIME, 1, "error"),
	ROW(ENODATA, RUNTIME, 1, "error"),
	ROW(EXDEV, RUNTIME, 1, "error"),
	ROW(ENOKEY, RUNTIME, 1, "error"),
	ROW(EPROTO, RUNTIME, 1, "error"),
	ROW(ENOLCK, RUNTIME, 1, "error"),
	ROW(ENOMEM, RUNTIME, 1, "error"),
	ROW(ENOBUFS, RUNTIME, 1, "error"),
	ROW(E2BIG, RUNTIME, 1, "error"),
	ROW(ERANGE, RUNTIME, 1, "error"),
	ROW(EINTR, RUNTIME, 1, "error"),
	ROW(EBADF, RUNTIME, 1, "error"),
	ROW(ENAMETOOLONG, RUNTIME, 1, "error"),
	ROW(EEXIST, RUNTIME, 1, "error"),
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct row *find_name(const char *name)
{
	for (size_t i = 0; i < NROWS; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

static void test_rows(void **state)
{
	for (size_t i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		int r = -w->errnum;

		print_message("%-16s %-12s exit %d  %s\n", w->name, w->word, w->exit_code,
			      errno_words(r));
		assert_int_equal(sgpr_err_kind(r), w->kind);
		assert_int_equal(exit_code_from_errno(r), w->exit_code);
		assert_int_equal(exit_code_of_kind(w->kind), w->exit_code);
		assert_string_equal(error_word(r), w->word);
		assert_int_equal(exit_code_from_word(w->word), w->exit_code);
		assert_non_null(errno_words(r));
		assert_true(errno_words(r)[0] != 0);
	}
}

/* The meanings that used to share -EIO or -ENOENT have their own phrases now. */
static void test_one_meaning(void **state)
{
	assert_string_not_equal(errno_words(-EIO), errno_words(-ECOMM));
	assert_string_not_equal(errno_words(-ENOENT), errno_words(-ENOKEY));
	assert_string_not_equal(errno_words(-EINVAL), errno_words(-EXDEV));
	/* the phrases of libsgpr's errnos are distinct */
	for (size_t i = 0; i < NROWS; i++)
		for (size_t j = i + 1; j < NROWS; j++)
			assert_string_not_equal(errno_words(-rows[i].errnum),
						errno_words(-rows[j].errnum));
}

static void test_ok_and_unknown(void **state)
{
	assert_int_equal(sgpr_err_kind(0), SGPR_ERR_OK);
	assert_int_equal(sgpr_err_kind(7), SGPR_ERR_OK);
	assert_int_equal(exit_code_from_errno(0), EXIT_OK);
	assert_string_equal(error_word(0), "ok");
	/* an errno libsgpr never returns is a runtime error */
	assert_int_equal(sgpr_err_kind(-EXFULL), SGPR_ERR_RUNTIME);
	assert_int_equal(exit_code_from_errno(-EXFULL), EXIT_RUNTIME);
	/* prlockd's own refusals and unknown words */
	assert_int_equal(exit_code_from_word("not-held"), EXIT_RUNTIME);
	assert_int_equal(exit_code_from_word("busy"), EXIT_RUNTIME);
	assert_int_equal(exit_code_from_word("denied"), EXIT_RUNTIME);
	assert_int_equal(exit_code_from_word("something-new"), EXIT_RUNTIME);
	assert_int_equal(exit_code_from_word(NULL), EXIT_RUNTIME);
	assert_int_equal(exit_code_of_kind((enum sgpr_err_kind)99), EXIT_RUNTIME);
}

/*
 * The same failure, the same exit code: prlock acquire --static exits with
 * exit_code_from_errno(r); prlock acquire through prlockd gets error_word(r) and exits with
 * exit_code_from_word() of it. For every errno.
 */
static void test_direct_equals_daemon(void **state)
{
	for (int e = 0; e < 4096; e++)
		assert_int_equal(exit_code_from_errno(-e), exit_code_from_word(error_word(-e)));
}

/* Every -EXXX written in sgpr/ (returned or documented) has a row above. */
static void test_every_library_errno(void **state)
{
	const char *src = getenv("SOURCE_DIR");
	char dir[4096], path[4600];
	struct dirent *de;
	unsigned seen = 0, files = 0;
	DIR *d;

	if (!src)
		skip();
	snprintf(dir, sizeof(dir), "%s/sgpr", src);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *buf;
		long len;
		FILE *f;

		if (n < 3 || (strcmp(de->d_name + n - 2, ".c") && strcmp(de->d_name + n - 2, ".h")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "re");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = calloc(1, (size_t)len + 1);
		assert_non_null(buf);
		assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		files++;
		for (char *p = buf; (p = strstr(p, "-E")); p += 2) {
			char name[32];
			size_t k = 0;

			/* "-EIO", not "SINGLE-ENDED" */
			if (p > buf && isalnum((unsigned char)p[-1]))
				continue;
			for (const char *q = p + 1;
			     (isupper((unsigned char)*q) || isdigit((unsigned char)*q)) &&
			     k < sizeof(name) - 1;
			     q++)
				name[k++] = *q;
			name[k] = 0;
			if (k < 3)
				continue;
			if (!find_name(name))
				fail_msg("%s: -%s has no row in test-errclass.c (and "
					 "sgpr/errclass.c)",
					 de->d_name, name);
			seen++;
		}
		free(buf);
	}
	closedir(d);
	print_message("%u errno uses in %u files of sgpr/, all classified\n", seen, files);
	assert_true(files > 10 && seen > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_one_meaning),
		cmocka_unit_test(test_ok_and_unknown),
		cmocka_unit_test(test_direct_equals_daemon),
		cmocka_unit_test(test_every_library_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
