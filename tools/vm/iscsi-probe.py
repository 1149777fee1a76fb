#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One iSCSI login to a target, then a logout: is the target there? (tools/sgpr-target)

  iscsi-probe.py HOST PORT TARGET-IQN [INITIATOR-IQN [LUN KEY]]

A Normal session logs in straight into the operational stage (no authentication), offering
RFC 7143's default for every operational key (so that the target has nothing left to propose),
and logs out again. With LUN and KEY (0x...), it first sends PERSISTENT RESERVE OUT REGISTER AND
IGNORE EXISTING KEY with KEY and APTPL set to LUN, for the tests of a target's APTPL: sgpr itself
never sets APTPL. Exit status: 0 logged in (and registered), 1 refused, failed or no answer (one
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


class Conn:
    def __init__(self, host, port):
        self.where = f"{host}:{port}"
        try:
            self.s = socket.create_connection((host, port), timeout=TIMEOUT)
        except OSError as e:
            fail(f"cannot connect to {self.where}: {e.strerror or e}")
        self.s.settimeout(TIMEOUT)

    def read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                fail(f"connection closed by the target at {self.where}")
            buf += chunk
        return buf

    def exchange(self, what, data):
        """send one PDU, return the BHS and data of the answer"""
        try:
            self.s.sendall(data)
            bhs = self.read(48)
            dlen = int.from_bytes(bhs[5:8], "big")
            rest = self.read(bhs[4] * 4 + dlen + (-dlen % 4))
        except socket.timeout:
            fail(f"{what}: no answer from {self.where} within {TIMEOUT:.0f} s")
        except OSError as e:
            fail(f"{what} at {self.where}: {e.strerror or e}")
        return bhs, rest[bhs[4] * 4:bhs[4] * 4 + dlen]


def main():
    if len(sys.argv) not in (4, 5, 7):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    host, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    initiator = sys.argv[4] if len(sys.argv) >= 5 else "iqn.2026-11.io.sgpr:target-probe"
    c = Conn(host, port)
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
        rsp, _ = c.exchange("login", pdu(bhs, keys))
        if rsp[0] & 0x3F != 0x23:
            fail(f"unexpected PDU opcode 0x{rsp[0] & 0x3f:02x} in answer to a login")
        cls, detail = rsp[36], rsp[37]
        if cls != 0:
            fail(f"login to {target} at {c.where} refused: status class {cls} detail {detail}")
        statsn = struct.unpack_from(">I", rsp, 24)[0] + 1
        if rsp[1] & 0x83 == 0x83:
            break
        keys = b""
    else:
        fail(f"login to {target} at {c.where}: no transit to full feature phase")
    cmdsn, itt = 1, 2
    if len(sys.argv) == 7:
        lun, key = int(sys.argv[5]), int(sys.argv[6], 0)
        # REGISTER AND IGNORE EXISTING KEY (06h), parameter list of 24 bytes, APTPL (byte 20)
        cdb = bytes([0x5F, 0x06, 0, 0, 0, 0, 0, 0, 24, 0]).ljust(16, b"\0")
        param = struct.pack(">QQ4sB3x", 0, key, b"\0" * 4, 0x01)
        for _ in range(4):  # unit attentions of a new nexus
            cmd = bytearray(48)
            cmd[0] = 0x01  # SCSI Command
            cmd[1] = 0x80 | 0x20 | 0x01  # Final, Write, simple task
            cmd[8:10] = struct.pack(">H", lun & 0x3FFF)  # single level LUN
            struct.pack_into(">IIII", cmd, 16, itt, len(param), cmdsn, statsn)
            cmd[32:48] = cdb
            rsp, data = c.exchange("PR OUT REGISTER", pdu(cmd, param))
            cmdsn, itt = cmdsn + 1, itt + 1
            statsn = struct.unpack_from(">I", rsp, 24)[0] + 1
            if rsp[0] & 0x3F != 0x21:
                fail(f"unexpected PDU opcode 0x{rsp[0] & 0x3f:02x} in answer to PR OUT")
            status = rsp[3]
            sense = data[2:] if len(data) > 2 else b""
            if status == 0:
                break
            if status == 2 and len(sense) > 12 and sense[2] & 0x0F == 6:
                continue  # UNIT ATTENTION: again
            fail(f"PR OUT REGISTER (APTPL) on LUN {lun}: status 0x{status:02x} sense "
                 f"{sense[:18].hex()}")
        else:
            fail(f"PR OUT REGISTER (APTPL) on LUN {lun}: unit attentions only")
    # in full feature phase: log out cleanly
    lo = bytearray(48)
    lo[0] = 0x46  # immediate, Logout Request
    lo[1] = 0x80  # close the session
    struct.pack_into(">IHxxII", lo, 16, itt, 0, cmdsn, statsn)
    try:
        c.s.sendall(pdu(lo))
        c.s.recv(48)  # the Logout Response, or the connection closed: the same here
    except OSError:
        pass
    c.s.close()


if __name__ == "__main__":
    main()
