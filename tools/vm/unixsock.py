#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Unix socket clients for tools/sgpr-vm (bash cannot open a unix socket).

  unixsock.py qmp SOCKET COMMAND [JSON-ARGUMENTS]   one QMP command; prints its "return" as JSON
  unixsock.py term SOCKET                           the guest console on this terminal; Ctrl-] leaves

Every QMP step is bounded by a 10 s timeout. Exit status: 0 ok, 1 error (one line on stderr).
"""
import json
import os
import select
import socket
import sys

TIMEOUT = 10.0


def die(msg):
    print(f"sgpr-vm: {msg}", file=sys.stderr)
    sys.exit(1)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect(path)
    except OSError as e:
        die(f"cannot connect to {path}: {e.strerror}")
    return s


def qmp(path, command, args):
    s = connect(path)
    f = s.makefile("rwb")

    def reply(what):
        while True:
            try:
                line = f.readline()
            except socket.timeout:
                die(f"QMP {what}: no answer within {TIMEOUT:.0f} s on {path}")
            if not line:
                if command == "quit":
                    return {"return": {}}
                die(f"QMP {what}: connection closed by QEMU")
            msg = json.loads(line)
            if "return" in msg or "error" in msg or "QMP" in msg:
                return msg  # anything else is an event

    reply("greeting")
    for cmd, a in (("qmp_capabilities", None), (command, args)):
        req = {"execute": cmd}
        if a:
            req["arguments"] = a
        f.write(json.dumps(req).encode() + b"\n")
        f.flush()
        msg = reply(cmd)
        if "error" in msg:
            die(f"QMP {cmd}: {msg['error'].get('desc', msg['error'])}")
    print(json.dumps(msg.get("return", {})))


def term(path):
    import termios
    import tty

    s = connect(path)
    s.settimeout(None)
    tty_in = os.isatty(0)
    print("sgpr-vm: connected to the guest console; Ctrl-] leaves", file=sys.stderr)
    old = termios.tcgetattr(0) if tty_in else None
    try:
        if tty_in:
            tty.setraw(0)
        s.sendall(b"\n")  # a fresh prompt
        while True:
            r, _, _ = select.select([0, s], [], [])
            if 0 in r:
                data = os.read(0, 4096)
                if not data:
                    break
                if tty_in and b"\x1d" in data:
                    s.sendall(data[: data.index(b"\x1d")])
                    break
                s.sendall(data)
            if s in r:
                data = s.recv(65536)
                if not data:
                    break
                os.write(1, data)
    finally:
        if old is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, old)
        print("\r\nsgpr-vm: console closed", file=sys.stderr)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "qmp":
        args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
        qmp(sys.argv[2], sys.argv[3], args)
    elif len(sys.argv) == 3 and sys.argv[1] == "term":
        term(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
