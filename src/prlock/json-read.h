/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small strict JSON reader (prlockd's replies). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum jv_type {
	JV_NULL,
	JV_BOOL,
	JV_NUMBER,
	JV_STRING,
	JV_ARRAY,
	JV_OBJECT,
};

struct jv {
	enum jv_type t;
	bool b;
	char *s; /* JV_STRING: the text; JV_NUMBER: the literal */
	size_t n;
	struct jv *items; /* JV_ARRAY, JV_OBJECT */
	char **keys;	  /* JV_OBJECT */
};

/* Parse one JSON text (whitespace around allowed). -EBADMSG if malformed; jv_clear() frees. */
int jv_parse(const char *s, struct jv *ret);
void jv_clear(struct jv *v);
/* Member of an object, NULL if v is no object or has no such member. */
const struct jv *jv_get(const struct jv *v, const char *key);
/* String (or number literal) member, else NULL. */
const char *jv_str(const struct jv *v, const char *key);
/* true only for a member that is the literal true */
bool jv_bool(const struct jv *v, const char *key);
