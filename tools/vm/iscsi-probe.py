#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One iSCSI login to a target, then a logout: is the target there? (tools/sgpr-target)

  iscsi-probe.py HOST PORT TARGET-IQN [INITIATOR-IQN]

A Normal session logs in straight into the operational stage (no authentication), offering
RFC 7143's default for every operational key (so that the target has nothing left to propose),
and logs out again. Exit status: 0 logged in, 1 refused or no answer (one
line on stderr), 2 usage. Every step is bounded by a 5 s timeout.
"""
import socket
import struct
import sys

TIMEOUT = 5.0


def fail(msg):
    print(f"iscsi-probe: {msg}", file=sys.stderr)
    sys.exit(1)


def pdu(bhs, data=b""):
    # BHS with its DataSegmentLength, then the data padded to 4 bytes
    bhs = bytearray(bhs)
    bhs[5:8] = len(data).to_bytes(3, "big")
    return bytes(bhs) + data + b"\0" * (-len(data) % 4)


def read_pdu(s):
    def read(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                fail("connection closed by the target")
            buf += chunk
        return buf

    bhs = read(48)
    dlen = int.from_bytes(bhs[5:8], "big")
    ahs = bhs[4] * 4
    read(ahs + dlen + (-dlen % 4))
    return bhs


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    host, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    initiator = sys.argv[4] if len(sys.argv) == 5 else "iqn.2026-11.io.sgpr:target-probe"
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
    except OSError as e:
        fail(f"cannot connect to {host}:{port}: {e.strerror or e}")
    s.settimeout(TIMEOUT)
    keys = (f"InitiatorName={initiator}\0TargetName={target}\0SessionType=Normal\0"
            "HeaderDigest=None\0DataDigest=None\0MaxConnections=1\0InitialR2T=Yes\0"
            "ImmediateData=Yes\0MaxRecvDataSegmentLength=8192\0MaxBurstLength=262144\0"
            "FirstBurstLength=65536\0DefaultTime2Wait=2\0DefaultTime2Retain=20\0"
            "MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0"
            "ErrorRecoveryLevel=0\0").encode()
    statsn = 0
    for _ in range(4):  # the target may take more than one exchange to transit
        bhs = bytearray(48)
        bhs[0] = 0x43  # immediate, Login Request
        bhs[1] = 0x80 | (1 << 2) | 3  # Transit, CSG operational, NSG full feature
        bhs[8:14] = bytes([0x80, 0x53, 0x47, 0x50, 0x52, 0x01])  # ISID: random type
        struct.pack_into(">IHxxII", bhs, 16, 1, 0, 1, statsn)  # ITT, CID, CmdSN, ExpStatSN
        try:
            s.sendall(pdu(bhs, keys))
            rsp = read_pdu(s)
        except socket.timeout:
            fail(f"no login response from {host}:{port} within {TIMEOUT:.0f} s")
        except OSError as e:
            fail(f"login to {host}:{port}: {e.strerror or e}")
        if rsp[0] & 0x3F != 0x23:
            fail(f"unexpected PDU opcode 0x{rsp[0] & 0x3f:02x} in answer to a login")
        cls, detail = rsp[36], rsp[37]
        if cls != 0:
            fail(f"login to {target} at {host}:{port} refused: status class {cls} detail {detail}")
        statsn = struct.unpack_from(">I", rsp, 24)[0] + 1
        if rsp[1] & 0x83 == 0x83:
            break
        keys = b""
    else:
        fail(f"login to {target} at {host}:{port}: no transit to full feature phase")
    # in full feature phase: log out cleanly
    lo = bytearray(48)
    lo[0] = 0x46  # immediate, Logout Request
    lo[1] = 0x80  # close the session
    struct.pack_into(">IHxxII", lo, 16, 2, 0, 1, statsn)
    try:
        s.sendall(pdu(lo))
        read_pdu(s)
    except OSError:
        pass
    s.close()


if __name__ == "__main__":
    main()
