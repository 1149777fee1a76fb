#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# libvirt's qemu hook (libvirt/qemu-hook.in, installed as hooks/qemu.d/50-sgpr; docs/LIBVIRT.md)
# with libvirt's calling convention: "HOOK DOMAIN OP SUBOP -", the domain XML on stdin. Two hosts
# (two prlockd) on a real tgtd: the domain starts on host 1 (lease read back from the target),
# the same domain on host 2 is refused naming the holder, host 2's release after its failed start
# leaves host 1's lease alone, started protects the QEMU pid (read back, then a lost lease stops
# it), release frees the LUN for host 2; bad XML and bad entries get one line and exit 1.
# shellcheck source=tests/integration/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib-prlockd.sh
. "$(dirname "$0")/lib-prlockd.sh"

HOOK="$BUILD_DIR/libvirt/50-sgpr"
start_target 1

pd_start h1 1
pd_start h2 2

# domain_xml [METADATA-ENTRIES] [EXTRA-DISKS]: a libvirt domain XML as libvirt passes it
domain_xml() {
	cat <<EOF
<domain type='kvm' id='1'>
  <name>vm1</name>
  <uuid>0b2c9f1e-7a4d-4c59-9d3c-2f6f1b7e1a01</uuid>
  <metadata>
    <sgpr:leases xmlns:sgpr="urn:sgpr:libvirt:1">
      ${1-}
    </sgpr:leases>
  </metadata>
  <memory unit='KiB'>524288</memory>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/vm1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='lun'>
      <source dev='/dev/disk/by-id/wwn-0x6001405abcdef0000000000000000001'/>
      <target dev='sdb' bus='scsi'/>
    </disk>
    ${2-}
  </devices>
</domain>
EOF
}
# hook HOST OP SUBOP [DOMAIN]: the hook as libvirt runs it on host HOST, XML from $XMLF
hook() {
	OUT=$(SGPR_HOOK_PRLOCK="$PRLOCK" SGPR_HOOK_RUN_DIR="$WORK/run$1" \
		SGPR_HOOK_PRLOCK_ARGS="--config /dev/null --host-id $1 --initiator $(iqn "$1") --control $WORK/h$1/control.sock" \
		"$HOOK" "${4-vm1}" "$2" "$3" - <"$XMLF" 2>"$WORK/stderr")
	RC=$?
	ERR=$(cat "$WORK/stderr")
}
XMLF=$WORK/domain.xml
domain_xml "<sgpr:device path=\"$URL\"/>" >"$XMLF"

echo "# host 1 starts the domain: prepare begin acquires the lease through prlockd"
hook 1 prepare begin
expect_rc "host 1: prepare begin" 0
check "... silent on success" eval '[ -z "$OUT$ERR" ]'
pl 3 --json status "$URL"
check "the target: host 1 holds the LUN" eval '[ "$(holder_host)" = 1 ]'
pd h1 1 --json leases
check "host 1's prlockd holds the lease" \
	json_eq '[(l["device"], l["state"]) for l in d["leases"]]' "[('$URL', 'held')]"

# the "held" control request (what prlockd-pr-helper asks before a guest PR OUT)
OUT=$(python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); s.sendall(b"held\n")
b=b""
while not b.endswith(b"\n"):
    c=s.recv(65536)
    if not c: break
    b+=c
print(b.decode().strip())' "$WORK/h1/control.sock")
check "prlockd's held list: the leased LUN, its LUN id known (${OUT:0:200})" \
	json_eq '[(h["device"], h["state"], h["lun_id"] is not None, h["devnums"]) for h in d["held"]]' \
	"[('$URL', 'held', True, [])]"

echo "# entries without a namespace (as virsh metadata --set may write them) count too"
domain_xml "<device path=\"$URL\"/>" >"$XMLF"
hook 1 prepare begin
expect_rc "host 1: prepare begin with an un-namespaced <device> (already held: no change)" 0
pd h1 1 --json leases
check "still the one lease" json_eq 'len(d["leases"])' 1
domain_xml "<sgpr:device path=\"$URL\"/>" >"$XMLF"

echo "# the same domain on host 2 is refused, naming the holder"
hook 2 prepare begin
expect_rc "host 2: prepare begin refused" 1 "held by host 1"
check "... one line on stderr naming the domain, the device and the holder's key" \
	eval 'err_one_line && err_has "^sgpr hook: domain .vm1.: not started: lease on $URL refused" && err_has "key 0x"'
echo "    $ERR"
hook 2 stopped end
expect_rc "host 2: stopped end after its failed start" 0
hook 2 release end
expect_rc "host 2: release end after its failed start" 0
pl 3 --json status "$URL"
check "host 1 still holds the LUN (host 2's release left it alone)" eval '[ "$(holder_host)" = 1 ]'

echo "# started begin: prlockd protects the QEMU process of libvirt's pidfile"
mkdir -p "$WORK/run1"
sleep 1000 &
QEMU=$!
IO_PID[qemu]=$QEMU
echo "$QEMU" >"$WORK/run1/vm1.pid"
hook 1 started begin
expect_rc "host 1: started begin" 0
pd h1 1 --json leases
check "the lease protects pid $QEMU" json_eq '[l["protected"] for l in d["leases"]]' "[[$QEMU]]"
echo "not-a-pid" >"$WORK/run1/vm1.pid"
hook 1 started begin
expect_rc "a pidfile without a pid: refused" 1 "names no running process"
rm -f "$WORK/run1/vm1.pid"
hook 1 started begin
expect_rc "no pidfile: refused" 1 "cannot read libvirt's pidfile"

echo "# the domain stops on host 1: release end frees the LUN (parked); host 2 starts it"
hook 1 stopped end
expect_rc "host 1: stopped end" 0
hook 1 release end
expect_rc "host 1: release end (nothing left to release)" 0
pl 3 --json status "$URL"
check "the LUN is parked (released)" eval '[ "$(holder_host)" = parked ]'
pd h1 1 --json leases
check "host 1's prlockd holds nothing" json_eq 'len(d["leases"])' 0
check "the protected process was not signalled by a release" eval '! proc_gone $QEMU'
kill "$QEMU"
hook 2 prepare begin
expect_rc "host 2: prepare begin now succeeds" 0
pl 3 --json status "$URL"
check "the target: host 2 holds the LUN" eval '[ "$(holder_host)" = 2 ]'

echo "# a lost lease stops the protected QEMU"
mkdir -p "$WORK/run2"
sleep 1000 &
QEMU=$!
IO_PID[qemu2]=$QEMU
echo "$QEMU" >"$WORK/run2/vm1.pid"
hook 2 started begin
expect_rc "host 2: started begin" 0
kill -STOP "${IO_PID[pd-h2]}" # host 2 hangs: its lease is no longer renewed
sleep "$DA"
pd h1 1 preempt --if-dead --timeout 20 "$URL"
expect_rc "host 1 takes the LUN over once host 2's key stopped changing" 0
kill -CONT "${IO_PID[pd-h2]}"
for _ in $(seq 100); do proc_gone "$QEMU" && break; sleep 0.1; done
check "host 2's prlockd found the lease lost and stopped the QEMU process" proc_gone "$QEMU"
pd h1 1 release "$URL"

echo "# bad input: one line on stderr, exit 1"
bad() { # bad WHAT PATTERN: the hook on host 1 with $XMLF
	# shellcheck disable=SC2034 # PAT: used in the eval below
	PAT=$2
	hook 1 prepare begin
	check "$1: exit 1, one line ($ERR)" eval 'rc_is 1 && err_one_line && err_has "$PAT" && [ -z "$OUT" ]'
}
printf '<domain><name>vm1</name><devices>' >"$XMLF"
bad "truncated XML" "malformed domain XML"
printf '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaa">]>\n<domain><name>vm1</name></domain>\n' >"$XMLF"
bad "a DTD (entities)" "has a DTD"
echo '<network><name>vm1</name></network>' >"$XMLF"
bad "not a domain" "not a libvirt <domain>"
domain_xml '<sgpr:disk target="vdz"/>' >"$XMLF"
bad "unknown disk" "<sgpr:disk target='vdz'>: unknown disk"
domain_xml '<sgpr:disk target="vda"/>' >"$XMLF"
bad "a file disk" "disk 'vda' is of type 'file'"
domain_xml "<sgpr:disk target=\"x' or '1'='1\"/>" >"$XMLF"
bad "an XPath in a target name" "is not a disk target name"
domain_xml '<sgpr:device path="relative/dev"/>' >"$XMLF"
bad "a device that is no /dev path or iscsi URL" "is not a device prlock takes"
domain_xml '<o:device xmlns:o="urn:other" path="/dev/sdx"/>' >"$XMLF"
bad "an entry of another namespace" "is in another namespace than urn:sgpr:libvirt:1"
domain_xml '<sgpr:lock path="/dev/sdx"/>' >"$XMLF"
bad "an unknown element" "unknown element <sgpr:lock>"
domain_xml '<sgpr:disk target="sdb"/>' >"$XMLF"
bad "a block disk resolved to its source; prlock refuses the missing device" \
	"lease on /dev/disk/by-id/wwn-0x6001405abcdef0000000000000000001 refused"
hook 1 prepare begin vm2
check "XML of another domain than argv's: refused" eval 'rc_is 1 && err_has "not of the domain named in argv"'
head -c $((5 << 20)) /dev/zero | tr '\0' ' ' >"$XMLF"
bad "more than 4 MiB of XML" "larger than"
pd h1 1 --json leases
check "no bad input left a lease" json_eq 'len(d["leases"])' 0

echo "# a domain without <sgpr:leases>, and other operations: nothing done, exit 0"
sed '/sgpr:leases/d' <(domain_xml) >"$XMLF"
hook 1 prepare begin
expect_rc "no <sgpr:leases>: exit 0" 0
printf 'garbage' >"$XMLF"
hook 1 migrate begin
expect_rc "migrate begin (not handled): exit 0, stdin consumed" 0
hook 1 reconnect begin
expect_rc "reconnect begin (not handled): exit 0" 0
pd h1 1 --json leases
check "still no lease" json_eq 'len(d["leases"])' 0
finish
