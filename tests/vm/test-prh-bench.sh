#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The short form of tools/bench-prh for CI (about 40 s on a 2-core TCG host): both pr-helper
# servers in one guest on /dev/sda, 1 and 8 clients, every request must be GOOD on both. The
# figures are printed, not judged (a loaded CI machine is no benchmark); docs/PERFORMANCE.md
# has the measured ones.
BENCH_REQUESTS=${BENCH_REQUESTS:-300} BENCH_STRACE=${BENCH_STRACE:-0} \
	exec "$SOURCE_DIR/tools/bench-prh" "$BUILD_DIR"
