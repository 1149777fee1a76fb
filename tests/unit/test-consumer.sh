#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# libsgpr as others use it: install the build into a scratch DESTDIR (meson install
# --destdir), then build a small C and a small C++ program with only what pkg-config says
# about the installed libsgpr.pc, and run them against the installed libsgpr.so.
#   BUILD_DIR (the meson build tree), SOURCE_DIR; CC, CXX name the compilers; SANITIZE is
#   meson's b_sanitize (an instrumented libsgpr.so needs instrumented programs).
set -eu
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
cc=${CC:-cc}
cxx=${CXX:-c++}
san=()
case ${SANITIZE:-none} in
none | '') ;;
*) san=(-fsanitize="$SANITIZE") ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

fail() {
	echo "test-consumer: $*" >&2
	exit 1
}

meson install -C "$BUILD_DIR" --destdir "$root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "meson install --destdir failed"; }
pc=$(find "$root" -name libsgpr.pc -print -quit)
[ -n "$pc" ] || fail "libsgpr.pc is not installed"
# pkg-config prefixes -I and -L with the sysroot: the paths of the DESTDIR tree
export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$root
version=$(pkg-config --modversion libsgpr) || fail "pkg-config does not know libsgpr"
want=$(sed -n "s/^ *version: '\([^']*\)',.*/\1/p" "$SOURCE_DIR/meson.build" | head -1)
[ "$version" = "$want" ] || fail "libsgpr.pc version '$version', meson.build says '$want'"
read -r -a cflags <<<"$(pkg-config --cflags libsgpr)"
read -r -a libs <<<"$(pkg-config --libs libsgpr)"
libdir=$(pkg-config --variable=libdir libsgpr)
# pkgconf prefixes variables with the sysroot too, pkg-config 0.29 does not
[ "${libdir#"$root"}" != "$libdir" ] || libdir=$root$libdir
[ -e "$libdir/libsgpr.so" ] || fail "no libsgpr.so in $libdir"
[ -e "${cflags[0]#-I}/sgpr.h" ] || fail "pkg-config --cflags (${cflags[*]}) does not name sgpr.h's directory"
# every library libsgpr.so needs is in the static link line (Requires.private, Libs.private)
static_libs=" $(pkg-config --static --libs libsgpr) "
for needed in $(readelf -d "$libdir/libsgpr.so" | sed -n 's/.*(NEEDED).*\[lib\(iscsi\|udev\|sgutils2\)\.so.*/\1/p'); do
	[[ $static_libs == *" -l$needed "* ]] ||
		fail "libsgpr.so needs lib$needed, pkg-config --static --libs libsgpr lacks -l$needed"
done
# the simulator and the test helpers stay out of the shipped library
if nm "$libdir/libsgpr.so" | grep -E 'sgpr_sim_|sgpr_test' >&2; then
	fail "installed libsgpr.so contains test code"
fi

cat >"$tmp/consumer.c" <<'EOC'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sgpr.h>

int main(void)
{
	char buf[SGPR_KEY_STRLEN];
	struct sgpr_dev_opts opts;
	struct sgpr_dev *d = NULL;
	int r;

	memset(&opts, 0, sizeof(opts));
	opts.size = sizeof(opts);
	printf("version %s\n", sgpr_version());
	printf("key %s\n", sgpr_key_format(sgpr_key_make(0x1234, 7, 42), buf));
	printf("type %d\n", sgpr_type_from_name("wero"));
	printf("conflict %d\n", (int)sgpr_err_kind(-EBADE));
	/* a malformed target is refused before any I/O */
	r = sgpr_dev_open("iscsi://", &opts, &d);
	printf("open %s\n", r == -EINVAL && !d ? "EINVAL" : "unexpected");
	return 0;
}
EOC
cp "$tmp/consumer.c" "$tmp/consumer.cc"
expect="version $want
key 0x123400070000002a
type 5
conflict 3
open EINVAL"
"$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer" "$tmp/consumer.c" "${cflags[@]}" \
	"${libs[@]}" || fail "the C consumer does not build against the installed tree"
"$cxx" "${san[@]}" -std=c++11 -Wall -Wextra -Werror -o "$tmp/consumer++" "$tmp/consumer.cc" "${cflags[@]}" \
	"${libs[@]}" || fail "the C++ consumer does not build against the installed tree"
# the example of libsgpr(3) builds too (scdoc source: "\\" is one backslash)
awk '/^```$/ { n++; next } n == 1' "$SOURCE_DIR/man/libsgpr.3.scd" | sed 's/\\\\/\\/g' >"$tmp/example.c"
grep -q 'sgpr_dev_open' "$tmp/example.c" || fail "no example in man/libsgpr.3.scd"
"$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror -o "$tmp/example" "$tmp/example.c" \
	"${cflags[@]}" "${libs[@]}" || fail "the example of man/libsgpr.3.scd does not build"
for exe in consumer consumer++; do
	# the installed library, not the build tree's: check what the loader picks
	so=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/$exe" | sed -n 's/^\tlibsgpr\.so[^ ]* => \([^ ]*\) .*/\1/p')
	[ "$(realpath "$so")" = "$(realpath "$libdir/libsgpr.so.0")" ] ||
		fail "$exe loads '$so', not the installed library"
	out=$(LD_LIBRARY_PATH=$libdir "$tmp/$exe") || fail "$exe failed"
	[ "$out" = "$expect" ] || fail "$exe printed:
$out
expected:
$expect"
done
echo "test-consumer: C and C++ consumers built with pkg-config against $version in DESTDIR: ok"
