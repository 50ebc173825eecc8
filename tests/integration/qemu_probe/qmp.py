#!/usr/bin/env python3
"""Minimal QMP client: qmp.py SOCKET COMMAND [JSON-ARGS]; prints the "return"
value as JSON (events are skipped)."""
import json
import socket
import sys


def main():
    path, cmd = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    f = s.makefile("rw")

    def call(name, arguments=None):
        msg = {"execute": name}
        if arguments is not None:
            msg["arguments"] = arguments
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("QMP connection closed")
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise SystemExit("QMP error: " + json.dumps(reply["error"]))

    json.loads(f.readline())  # greeting
    call("qmp_capabilities")
    print(json.dumps(call(cmd, args)))


if __name__ == "__main__":
    main()
