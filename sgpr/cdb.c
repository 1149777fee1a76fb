/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PERSISTENT RESERVE OUT / IN command encoding (SPC-4 6.15.1, 6.16). Pure, no I/O.
 *
 * Scope is always LU_SCOPE (0h), the only scope SPC-4 defines (6.15.3.3).
 * Fields that SPC-4 marks "ignored" for a service action are written as given;
 * flags that are invalid for a service action are refused with -EINVAL rather
 * than silently sent.
 */
#include "sgpr-private.h"

#define PROUT_OPCODE 0x5f
#define PRIN_OPCODE 0x5e
#define PROUT_BASIC_LEN 24 /* SPC-4 6.16.3 table 219 */
#define PROUT_MOVE_LEN 24  /* SPC-4 6.16.4 table 221, without the TransportID */

/* SPC-4 6.16.3: byte 20 of the basic parameter list */
#define PROUT_SPEC_I_PT 0x08
#define PROUT_ALL_TG_PT 0x04
#define PROUT_APTPL 0x01
/* SPC-4 6.16.4: byte 17 of the REGISTER AND MOVE parameter list */
#define PROUT_MOVE_UNREG 0x02
#define PROUT_MOVE_APTPL 0x01

static bool type_valid(uint8_t type)
{
	switch (type) {
	case SGPR_TYPE_WE:
	case SGPR_TYPE_EA:
	case SGPR_TYPE_WERO:
	case SGPR_TYPE_EARO:
	case SGPR_TYPE_WEAR:
	case SGPR_TYPE_EAAR:
		return true;
	default:
		return false;
	}
}

/* Service actions whose TYPE field matters (SPC-4 6.16.2 table 218). */
static bool sa_uses_type(enum sgpr_prout_sa sa)
{
	return sa == SGPR_PROUT_RESERVE || sa == SGPR_PROUT_RELEASE || sa == SGPR_PROUT_PREEMPT ||
	       sa == SGPR_PROUT_PREEMPT_AND_ABORT || sa == SGPR_PROUT_REGISTER_AND_MOVE;
}

/*
 * Service actions that must name the caller's registration: a registered key is
 * never 0 (SPC-4 5.12.7), so RESERVATION KEY 0 can only produce a conflict.
 */
static bool sa_needs_key(enum sgpr_prout_sa sa)
{
	return sa_uses_type(sa) || sa == SGPR_PROUT_CLEAR;
}

static int check_params(const struct sgpr_prout_params *p)
{
	bool move = p->sa == SGPR_PROUT_REGISTER_AND_MOVE;
	bool reg = p->sa == SGPR_PROUT_REGISTER || p->sa == SGPR_PROUT_REGISTER_AND_IGNORE;

	if ((unsigned)p->sa >= _SGPR_PROUT_SA_MAX)
		return -EINVAL;
	if (sgpr_check_zero(p->reserved, sizeof(p->reserved)) < 0)
		return -EINVAL; /* a field of a newer header this library does not know */
	if (sa_uses_type(p->sa) && !type_valid(p->type))
		return -EINVAL;
	if (sa_needs_key(p->sa) && p->key == 0)
		return -EINVAL;
	/* SPC-4 5.12.8: REGISTER AND MOVE with SERVICE ACTION RESERVATION KEY 0 is refused */
	if (move && p->sa_key == 0)
		return -EINVAL;
	/* SPC-4 6.16.3: SPEC_I_PT is valid only for REGISTER (5.12.7 refuses it for RIG) */
	if (p->spec_i_pt && p->sa != SGPR_PROUT_REGISTER)
		return -EINVAL;
	/* SPC-4 6.16.3: ALL_TG_PT is valid only for REGISTER and REGISTER AND IGNORE */
	if (p->all_tg_pt && !reg)
		return -EINVAL;
	/* APTPL exists in the basic list for REGISTER/RIG (6.16.3) and in the move list (6.16.4) */
	if (p->aptpl && !reg && !move)
		return -EINVAL;
	if ((p->unreg || p->rel_tgt_port) && !move)
		return -EINVAL;

	/* TransportIDs: the SPEC_I_PT list, or the one REGISTER AND MOVE destination */
	if (p->tids_len % 4 || (p->tids_len && !p->tids))
		return -EINVAL;
	if ((p->spec_i_pt || move) && p->tids_len == 0)
		return -EINVAL;
	if (!p->spec_i_pt && !move && p->tids_len)
		return -EINVAL;
	if (p->tids_len > SGPR_PROUT_PARAM_MAX)
		return -EINVAL;
	return 0;
}

/**
 * sgpr_prout_encode() - build a PERSISTENT RESERVE OUT CDB and its parameter list
 * @p: the request
 * @cdb: receives the 10-byte CDB (SPC-4 6.16.1 table 217)
 * @param: receives the parameter list
 * @param_len: size of @param
 *
 * Return: the parameter list length (also written to the CDB), -EINVAL for an
 * inconsistent request or a list longer than SGPR_PROUT_PARAM_MAX, -ENOBUFS if
 * @param is too small.
 */
int sgpr_prout_encode(const struct sgpr_prout_params *p, uint8_t *cdb, uint8_t *param,
		      size_t param_len)
{
	bool move;
	size_t n;
	int r;

	if (!p || !cdb)
		return -EINVAL;
	r = check_params(p);
	if (r < 0)
		return r;

	move = p->sa == SGPR_PROUT_REGISTER_AND_MOVE;
	if (move)
		n = PROUT_MOVE_LEN + p->tids_len;
	else if (p->spec_i_pt)
		n = PROUT_BASIC_LEN + 4 + p->tids_len;
	else
		n = PROUT_BASIC_LEN;
	if (n > SGPR_PROUT_PARAM_MAX)
		return -EINVAL;
	if (!param || param_len < n)
		return -ENOBUFS;

	memset(param, 0, n);
	sgpr_put_be64(param, p->key);
	sgpr_put_be64(param + 8, p->sa_key);
	if (move) {
		/* SPC-4 6.16.4 table 221 */
		param[17] = (p->unreg ? PROUT_MOVE_UNREG : 0) | (p->aptpl ? PROUT_MOVE_APTPL : 0);
		sgpr_put_be16(param + 18, p->rel_tgt_port);
		sgpr_put_be32(param + 20, p->tids_len);
		memcpy(param + 24, p->tids, p->tids_len);
	} else {
		/* SPC-4 6.16.3 table 219; bytes 16-19 (obsolete SCOPE-SPECIFIC ADDRESS) stay 0 */
		param[20] = (p->spec_i_pt ? PROUT_SPEC_I_PT : 0) |
			    (p->all_tg_pt ? PROUT_ALL_TG_PT : 0) | (p->aptpl ? PROUT_APTPL : 0);
		if (p->spec_i_pt) {
			/* SPC-4 6.16.3 table 220: TRANSPORTID PARAMETER DATA LENGTH, list */
			sgpr_put_be32(param + 24, p->tids_len);
			memcpy(param + 28, p->tids, p->tids_len);
		}
	}

	/* SPC-4 6.16.1 table 217 */
	memset(cdb, 0, SGPR_PROUT_CDB_LEN);
	cdb[0] = PROUT_OPCODE;
	cdb[1] = p->sa & 0x1f;
	cdb[2] = sa_uses_type(p->sa) ? p->type & 0x0f : 0; /* SCOPE (7:4) = LU_SCOPE */
	sgpr_put_be32(cdb + 5, n);
	return (int)n;
}

/**
 * sgpr_prin_encode() - build a PERSISTENT RESERVE IN CDB (SPC-4 6.15.1 table 192)
 * @sa: service action
 * @alloc_len: ALLOCATION LENGTH
 * @cdb: receives the 10-byte CDB
 */
void sgpr_prin_encode(enum sgpr_prin_sa sa, uint16_t alloc_len, uint8_t *cdb)
{
	if (!cdb)
		return;
	memset(cdb, 0, SGPR_PRIN_CDB_LEN);
	cdb[0] = PRIN_OPCODE;
	cdb[1] = sa & 0x1f;
	sgpr_put_be16(cdb + 7, alloc_len);
}
