# vendorwall agent "session": several agent requests over ONE SSH exec channel, one JSON line each.
#
# Runs as `python3 -I -S -c <program> session`, where the program is this file preceded by one assignment,
# SOURCES = {agent name: its program text}, written by the controller from the agent files of its own
# package (constants of the package, like every agent program; nothing of a request is in it).
# Each request line is {"agent": NAME, "op": ..., ...}; the agent NAME (one of SOURCES) handles it with its
# handle(request) -> (status, answer), and this prints one line {"status": status, "answer": answer} and
# flushes, then reads the next request: the controller can act on an answer (journal it) before it asks
# the next question on the same channel (an isolation, then the anchor of the journal entry that
# records it). Ends at the end of standard input. Standard library only, Python >= 3.7.
import json
import sys

SOURCES = globals().get("SOURCES") or {}
_LOADED = {}  # type: dict


def _handler(name):
    if name not in _LOADED:
        space = {"__name__": "vendorwall_agent_" + name}
        exec(compile(SOURCES[name], name + ".py", "exec"), space)  # a program text of the package
        _LOADED[name] = space["handle"]
    return _LOADED[name]


def _one(line):
    try:
        req = json.loads(line)
    except ValueError as exc:
        return 2, {"ok": False, "error": "request is not JSON: %s" % exc}
    if not isinstance(req, dict):
        return 2, {"ok": False, "error": "request is not an object"}
    name = req.get("agent")
    if not isinstance(name, str) or name not in SOURCES:
        served = ", ".join(sorted(SOURCES))
        return 2, {"ok": False, "error": "unknown agent: %r (this session runs %s)" % (name, served)}
    try:
        return _handler(name)(req)
    except Exception as exc:  # an agent bug: said on the channel, the session goes on
        return 1, {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        status, answer = _one(line)
        sys.stdout.write(json.dumps({"status": status, "answer": answer}, sort_keys=True) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
