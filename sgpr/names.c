/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names of reservation types and service actions. Pure, no I/O. */
#include <strings.h>

#include "sgpr-private.h"

/* Reservation types, SPC-4 6.15.3.4 table 198; long names as blkpr, short as prlock. */
static const struct {
	int type;
	const char *name;
	const char *short_name;
} type_names[] = {
	{SGPR_TYPE_WE, "write-exclusive", "we"},
	{SGPR_TYPE_EA, "exclusive-access", "ea"},
	{SGPR_TYPE_WERO, "write-exclusive-reg-only", "wero"},
	{SGPR_TYPE_EARO, "exclusive-access-reg-only", "earo"},
	{SGPR_TYPE_WEAR, "write-exclusive-all-regs", "wear"},
	{SGPR_TYPE_EAAR, "exclusive-access-all-regs", "eaar"},
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *sgpr_type_to_name(int type)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

/**
 * sgpr_type_from_name() - reservation type from text
 * @name: a blkpr name ("write-exclusive-reg-only"), a short form ("wero"), both
 *        case-insensitive, or the decimal SPC-4 code ("5")
 *
 * Return: the type code (1, 3, 5, 6, 7 or 8) or -EINVAL.
 */
int sgpr_type_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < N_TYPES; i++)
		if (strcasecmp(name, type_names[i].name) == 0 ||
		    strcasecmp(name, type_names[i].short_name) == 0)
			return type_names[i].type;
	/* a single decimal digit naming a valid code */
	if (name[0] >= '1' && name[0] <= '8' && name[1] == '\0' && sgpr_type_to_name(name[0] - '0'))
		return name[0] - '0';
	return -EINVAL;
}

/* SPC-4 5.12.11.2: the all-registrants types have no single holder. */
bool sgpr_type_is_all_registrants(int type)
{
	return type == SGPR_TYPE_WEAR || type == SGPR_TYPE_EAAR;
}

bool sgpr_type_is_registrants_only(int type)
{
	return type == SGPR_TYPE_WERO || type == SGPR_TYPE_EARO;
}

/* SPC-4 6.16.2 table 218 */
const char *sgpr_prout_sa_to_name(int sa)
{
	static const char *const names[_SGPR_PROUT_SA_MAX] = {
		[SGPR_PROUT_REGISTER] = "REGISTER",
		[SGPR_PROUT_RESERVE] = "RESERVE",
		[SGPR_PROUT_RELEASE] = "RELEASE",
		[SGPR_PROUT_CLEAR] = "CLEAR",
		[SGPR_PROUT_PREEMPT] = "PREEMPT",
		[SGPR_PROUT_PREEMPT_AND_ABORT] = "PREEMPT AND ABORT",
		[SGPR_PROUT_REGISTER_AND_IGNORE] = "REGISTER AND IGNORE EXISTING KEY",
		[SGPR_PROUT_REGISTER_AND_MOVE] = "REGISTER AND MOVE",
	};

	return sa >= 0 && sa < _SGPR_PROUT_SA_MAX ? names[sa] : NULL;
}

/* SPC-4 6.15.1 table 193 */
const char *sgpr_prin_sa_to_name(int sa)
{
	static const char *const names[_SGPR_PRIN_SA_MAX] = {
		[SGPR_PRIN_READ_KEYS] = "READ KEYS",
		[SGPR_PRIN_READ_RESERVATION] = "READ RESERVATION",
		[SGPR_PRIN_REPORT_CAPABILITIES] = "REPORT CAPABILITIES",
		[SGPR_PRIN_READ_FULL_STATUS] = "READ FULL STATUS",
	};

	return sa >= 0 && sa < _SGPR_PRIN_SA_MAX ? names[sa] : NULL;
}
