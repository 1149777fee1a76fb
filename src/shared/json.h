/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small streaming JSON writer: objects, arrays, strings, numbers, booleans. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool first[JSON_DEPTH_MAX];
	bool after_key;
};

void json_init(struct json *j, FILE *f, bool pretty);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Reservation keys are strings: "0x..." (DESIGN.md). */
void json_hex(struct json *j, uint64_t v);
/* Close the document with a newline. */
void json_finish(struct json *j);
