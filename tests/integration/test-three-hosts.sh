#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Three initiators as three hosts, plus a foreign key (another cluster namespace).
. "$(dirname "$0")/lib.sh"
start_target 1

keys_of() { python3 -c 'import json,sys
print(" ".join(str(r["host_id"]) for r in json.loads(sys.argv[1])["devices"][0]["registrations"]))' "$OUT"; }

pl 1 acquire --static "$URL"
expect_rc "host 1 acquire" 0
pl 2 register "$URL"
expect_rc "host 2 register" 0
pl 3 register "$URL"
expect_rc "host 3 register" 0
pl 2 --json keys "$URL"
check "three hosts registered" eval '[ "$(keys_of)" = "1 2 3" ]'
pl 3 preempt --host 1 "$URL"
expect_rc "host 3 preempts host 1" 0 "now held by this host"
pl 2 --json status "$URL"
check "hosts 2 and 3 remain" eval '[ "$(keys_of)" = "2 3" ]'
check "host 3 holds" json_eq 'd["devices"][0]["reservation"]["holder"]["host_id"]' 3
check "type kept across preempt" json_eq 'd["devices"][0]["reservation"]["type"]' write-exclusive-reg-only
K3=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["devices"][0]["reservation"]["holder"]["key"])' "$OUT")
pl 2 check "$URL"
expect_rc "host 2 check" 3 "held by host 3"
pl 2 preempt --victim "$K3" "$URL"
expect_rc "host 2 preempts host 3 by key" 0 "preempted host 3"
pl 1 --json status "$URL"
check "only host 2 left" eval '[ "$(keys_of)" = "2" ]'
pl 1 preempt --victim "$K3" "$URL"
expect_rc "preempt of a key that is gone" 1 "is not registered"

echo "# a foreign key (cluster 'other') is reported and only touched with --force"
io_start foreign 9 --cluster other
io_expect foreign register ok
pl 1 --json keys "$URL"
check "foreign key reported as foreign" \
	json_eq '[r["foreign"] for r in d["devices"][0]["registrations"]]' "[False, True]"
FK=$(python3 -c 'import json,sys; print([r["key"] for r in json.loads(sys.argv[1])["devices"][0]["registrations"] if r["foreign"]][0])' "$OUT")
pl 1 status "$URL"
check "human status labels it foreign" out_has "foreign"
pl 2 preempt --victim "$FK" "$URL"
expect_rc "preempt foreign key without --force" 3 "foreign"
pl 2 --json keys "$URL"
check "foreign key untouched" eval '[ "$(keys_of)" = "2 None" ]'
pl 2 preempt --victim "$FK" --force "$URL"
expect_rc "preempt foreign key with --force" 0
pl 2 --json keys "$URL"
check "foreign key removed" eval '[ "$(keys_of)" = "2" ]'
io_expect foreign "write 3 foreign-after-preempt" "err conflict"
io_stop foreign
pl 2 release "$URL"
expect_rc "host 2 release" 0 "parked"
pl 3 check "$URL"
expect_rc "a released LUN is parked" 6 "parked"
# other software on the LUN needs an explicit administrator action once sgpr released it
pl 2 clear --force "$URL"
expect_rc "clear --force frees the parked LUN for other software" 0 "cleared"

echo "# a foreign holder"
io_start foreign 9 --cluster other
io_expect foreign register ok
io_expect foreign reserve ok
pl 1 acquire --static "$URL"
expect_rc "acquire against a foreign holder" 3 "held by foreign key"
pl 1 preempt "$URL"
expect_rc "preempt a foreign holder without --force" 3 "--force"
pl 1 preempt --force "$URL"
expect_rc "preempt a foreign holder with --force" 0
pl 3 check "$URL"
expect_rc "host 1 now holds" 3 "held by host 1"
io_expect foreign "write 3 foreign-after-takeover" "err conflict"
io_stop foreign
finish
