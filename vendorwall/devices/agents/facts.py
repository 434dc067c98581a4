# vendorwall agent "facts": what the controller needs to know of a Linux device before acting on it.
# Request: {"op": "facts"}. Answer: {"ok": true, "time": <epoch seconds, float>, "hostname": ..., "uid": ...,
# "python": "3.x.y", "tools": {"nft": bool, "conntrack": bool, ...}}.
# Runs as `python3 -c <this file> facts` with the request on stdin; standard library only.
import json
import os
import platform
import shutil
import socket
import sys
import time


def main():
    try:
        req = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": "request is not JSON: %s" % exc}))
        return 2
    if not isinstance(req, dict) or req.get("op") != "facts":
        print(json.dumps({"ok": False, "error": "unknown op"}))
        return 2
    tools = {t: shutil.which(t) is not None for t in ("nft", "conntrack", "useradd", "ulogd", "rsyslogd")}
    print(json.dumps({"ok": True, "time": time.time(), "hostname": socket.gethostname(), "uid": os.getuid(),
                      "python": platform.python_version(), "tools": tools}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
