# vendorwall agent "nft_state": the live state of an nftables firewall (quarantine, grants), changed from data.
#
# Runs as `python3 -I -S -c <this file> nft_state` with one JSON request on stdin, prints one JSON answer;
# or inside the "session" agent (handle(), one request per line on one channel).
# Standard library only, Python >= 3.7. Nothing of the request ever reaches a shell: addresses are parsed
# with ipaddress, names and comments checked against fixed patterns, set names taken from a fixed list,
# and every change goes to `nft -j -f -` as a JSON document built here (argument vectors, no shell).
#
# Ops (request -> answer; every answer has "ok"):
#   quarantine  {"action": "isolate"|"restore"|"check", "elements": [{"prefix","vendor","kind","name"}],
#                "vendors": [names: restore also lifts every element tagged with them],
#                "segments_need_keep": bool, "conntrack": bool, "persist_dir": path or ""}
#       -> "before"/"after": {"quarantine": [...], "isolated": [...]} (elements {"prefix", "comment"}),
#          "chain" (the state chain's rules, nft JSON) or "chain_error", "t0"/"t1" (device clock around
#          the change), "rc", "txn_output", "failed" (prefixes nft refused), "no_keep", "conns",
#          "conntrack_missing", "persisted"/"persist_error"
#   grants_list {} -> "sets": {"grants_tcp": [elements as nft prints them], ...}, "errors"
#   grants_open {"elements": [{"set","src","dst","port"}], "timeout": seconds, "comment": text,
#                "only_missing": bool}  (only_missing: create only the tuples no live element holds, and say
#                which: a test grant never replaces or later deletes somebody else's)
#       -> "before", "after" (as grants_list), "created" (only_missing: the elements it created, as in the
#          request: close exactly those), "rc", "output", "t0", "t1"
#   grants_close {"elements": [{"set","src","dst","port"}]} -> the same fields
#   persist     {"dir": path} -> "persisted"/"persist_error"
#
# Persistence (boot): <dir>/quarantine.nft is rewritten after every change from the live sets (the
# deploy writes <dir>/boot.nft, which includes the last applied policy then this file), so a firewall
# that reboots comes back closed for every isolated vendor. Grants are never persisted (a reboot closes
# them: fail closed).
import fcntl
import ipaddress
import json
import os
import re
import subprocess
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost on every device, every call)
if TYPE_CHECKING:
    from typing import Any, Dict, List

STATE = ("inet", "vendorwall_state")
POLICY = ("inet", "vendorwall")
QUARANTINE = "quarantine"
ISOLATED = "isolated"
GRANT_SETS = ("grants_tcp", "grants_udp", "grants_any")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ELEMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
COMMENT = re.compile(r"^[A-Za-z0-9 ._/:=@+-]{0,128}$")
DIR = re.compile(r"^/[A-Za-z0-9._/-]{0,4000}$")
MARK_KEEP = 0x00400000
MAX_ITEMS = 100000


class Bad(Exception):
    pass


# --------------------------------------------------------------------------- checking the request


def _prefix(value, where):
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except (ValueError, TypeError):
        raise Bad("%s: not an IPv4 prefix: %r" % (where, value)) from None


def _host_or_prefix(value, where):
    n = _prefix(value, where)
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def _match(pattern, value, where):
    if not isinstance(value, str) or not pattern.match(value):
        raise Bad("%s: not allowed: %r" % (where, value))
    return value


def _items(req, key):
    items = req.get(key) or []
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Bad("%s: a list of at most %d items" % (key, MAX_ITEMS))
    return items


def _q_elements(req):
    out = []
    for i, e in enumerate(_items(req, "elements")):
        where = "elements[%d]" % i
        if not isinstance(e, dict):
            raise Bad(where + ": not an object")
        n = _prefix(e.get("prefix"), where + ".prefix")
        vendor = _match(NAME, e.get("vendor"), where + ".vendor")
        kind = e.get("kind")
        if kind not in ("entry", "segment"):
            raise Bad(where + ".kind: entry or segment")
        name = _match(ELEMENT_NAME, e.get("name"), where + ".name")
        out.append((n, "vw-isolate %s %s %s" % (vendor, kind, name), kind))
    return out


def _g_elements(req):
    out = []
    for i, e in enumerate(_items(req, "elements")):
        where = "elements[%d]" % i
        if not isinstance(e, dict) or e.get("set") not in GRANT_SETS:
            raise Bad(where + ".set: one of " + ", ".join(GRANT_SETS))
        src = _host_or_prefix(e.get("src"), where + ".src")
        dst = _host_or_prefix(e.get("dst"), where + ".dst")
        port = e.get("port")
        if e["set"] == "grants_any":
            if port is not None:
                raise Bad(where + ".port: grants_any takes none")
        elif not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise Bad(where + ".port: 1..65535")
        out.append((e["set"], src, dst, port))
    return out


# --------------------------------------------------------------------------- nft


def _nft(args, stdin=None):
    try:
        p = subprocess.run(["nft", *args], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
    except FileNotFoundError:
        return 127, "", "nft: not found"
    return p.returncode, p.stdout, p.stderr


def _apply(commands):
    """One transaction (all or nothing): (rc, nft's messages)."""
    rc, out, err = _nft(["-j", "-f", "-"], json.dumps({"nftables": commands}))
    return rc, (err or out).strip()[:2000]


def _val(v):
    if isinstance(v, dict) and "prefix" in v:
        return "%s/%s" % (v["prefix"]["addr"], v["prefix"]["len"])
    if isinstance(v, dict) and "range" in v:
        return "%s-%s" % (v["range"][0], v["range"][1])
    return str(v)


def _elem_val(prefix_text):
    n = ipaddress.IPv4Network(prefix_text)
    if n.prefixlen == 32:
        return str(n.network_address)
    return {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}


def _list_set(table, name):
    """(elements as nft JSON, error)."""
    rc, out, err = _nft(["-j", "list", "set", table[0], table[1], name])
    if rc != 0:
        return None, (err or out).strip()[:500] or "nft exit %d" % rc
    try:
        data = json.loads(out)
    except ValueError:
        return None, "nft printed no JSON"
    for item in data.get("nftables", []):
        if "set" in item:
            return item["set"].get("elem", []), ""
    return None, "no set in the listing"


def _prefixes(elem):
    """The prefixes one nft JSON element of an address set stands for, with its comment."""
    comment = ""
    val = elem
    if isinstance(elem, dict) and "elem" in elem:
        comment = str(elem["elem"].get("comment", ""))
        val = elem["elem"].get("val")
    if isinstance(val, str):
        nets = [ipaddress.IPv4Network(val + "/32")]
    elif isinstance(val, dict) and "prefix" in val:
        nets = [ipaddress.IPv4Network("%s/%s" % (val["prefix"]["addr"], val["prefix"]["len"]))]
    elif isinstance(val, dict) and "range" in val:
        nets = list(ipaddress.summarize_address_range(ipaddress.IPv4Address(val["range"][0]),
                                                      ipaddress.IPv4Address(val["range"][1])))
    else:
        nets = []
    return [(n, comment) for n in nets]


def _address_set(table, name):
    elems, err = _list_set(table, name)
    if elems is None:
        return None, err
    out = []
    for e in elems:
        out += [{"prefix": str(n), "comment": c} for n, c in _prefixes(e)]
    out.sort(key=lambda x: (int(ipaddress.IPv4Network(x["prefix"]).network_address),
                            ipaddress.IPv4Network(x["prefix"]).prefixlen))
    return out, ""


def _addresses(elems):
    out = []
    for e in elems:
        out += [{"prefix": str(n), "comment": c} for n, c in _prefixes(e)]
    out.sort(key=lambda x: (int(ipaddress.IPv4Network(x["prefix"]).network_address),
                            ipaddress.IPv4Network(x["prefix"]).prefixlen))
    return out


def _state():
    """One listing of the state table: (quarantine elements or None, quarantine error, chain rules or None,
    chain error)."""
    rc, out, err = _nft(["-j", "list", "table", STATE[0], STATE[1]])
    if rc != 0:
        why = (err or out).strip()[:500] or "nft exit %d" % rc
        return None, why, None, why
    try:
        items = json.loads(out).get("nftables", [])
    except ValueError:
        return None, "nft printed no JSON", None, "nft printed no JSON"
    q = next((i["set"] for i in items if "set" in i and i["set"].get("name") == QUARANTINE), None)
    hooked = any("chain" in i and i["chain"].get("name") == "forward" and i["chain"].get("hook") == "forward"
                 for i in items)
    rules = [i["rule"] for i in items if "rule" in i and i["rule"].get("chain") == "forward"]
    return (_addresses(q.get("elem", [])) if q is not None else None, "" if q is not None else "no quarantine set",
            rules if hooked else None, "" if hooked else "the state chain is not hooked to forward")


def _keep_honoured(rules):
    """Both quarantine drops of the state chain skip packets carrying the keep mark."""
    found = set()
    for r in rules or []:
        exprs = r.get("expr", [])
        if not any(isinstance(e, dict) and "drop" in e for e in exprs):
            continue
        field = None
        keep = False
        for e in exprs:
            m = e.get("match") if isinstance(e, dict) else None
            if not m:
                continue
            left = m.get("left", {})
            if m.get("right") == "@" + QUARANTINE and isinstance(left, dict) and "payload" in left:
                field = left["payload"].get("field")
            if isinstance(left, dict) and "&" in left and left["&"][1:] == [MARK_KEEP]:
                keep = True
        if keep and field in ("saddr", "daddr"):
            found.add(field)
    return found == {"saddr", "daddr"}


def _now():
    return time.time()


# --------------------------------------------------------------------------- persistence


def _nft_text_elements(items):
    parts = []
    for x in items:
        n = ipaddress.IPv4Network(x["prefix"])
        value = str(n.network_address) if n.prefixlen == 32 else str(n)
        c = x.get("comment", "")
        parts.append('%s comment "%s"' % (value, c) if c and COMMENT.match(c) else value)
    return ", ".join(parts)


def _list_into(listed):
    q, qerr, _c, _e = _state()
    listed.update(quarantine=q, isolated=_address_set(POLICY, ISOLATED)[0], error=qerr)
    return listed


def persist(directory, listed=None):
    """Rewrite <dir>/quarantine.nft from the live sets, listed under a lock (the last writer saw the last
    change). ``listed``: a dict that receives the listing (the run's "after")."""
    listed = {} if listed is None else listed
    if not directory:
        _list_into(listed)
        return {"persisted": "", "persist_error": ""}
    if not DIR.match(directory) or "/../" in directory + "/":
        _list_into(listed)
        return {"persisted": "", "persist_error": "not an absolute path of safe characters: %r" % directory}
    if not os.path.isdir(directory):
        _list_into(listed)
        return {"persisted": "", "persist_error": "%s does not exist (deploy vendorwall first)" % directory}
    path = os.path.join(directory, "quarantine.nft")
    lock = os.open(os.path.join(directory, "persist.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sets = _list_into(listed)
        if sets["quarantine"] is None:
            return {"persisted": "", "persist_error": "cannot list the quarantine: " + sets["error"]}
        lines = ["# vendorwall: the live quarantine at %s, loaded at boot after the policy (boot.nft)."
                 % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "flush set inet vendorwall_state quarantine"]
        if sets["quarantine"]:
            lines.append("add element inet vendorwall_state quarantine { %s }" % _nft_text_elements(sets["quarantine"]))
        if sets["isolated"] is not None:
            lines.append("flush set inet vendorwall isolated")
            if sets["isolated"]:
                lines.append("add element inet vendorwall isolated { %s }" % _nft_text_elements(sets["isolated"]))
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return {"persisted": path, "persist_error": ""}
    except OSError as exc:
        return {"persisted": "", "persist_error": "%s: %s" % (path, exc.strerror or exc)}
    finally:
        os.close(lock)


# --------------------------------------------------------------------------- ops


def _element_cmd(verb, table, name, elems):
    return {verb: {"element": {"family": table[0], "table": table[1], "name": name, "elem": elems}}}


def _covered(n, live):
    return any(n.subnet_of(ipaddress.IPv4Network(x["prefix"])) for x in live or [])


def op_quarantine(req):
    action = req.get("action")
    if action not in ("isolate", "restore", "check"):
        raise Bad("action: isolate, restore or check")
    elements = _q_elements(req)
    vendors = [_match(NAME, v, "vendors[%d]" % i) for i, v in enumerate(_items(req, "vendors"))]
    ans: Dict[str, Any] = {"ok": True, "failed": [], "no_keep": False, "rc": None, "txn_output": "", "conns": None,
           "conntrack_missing": False, "t0": None, "t1": None, "revoked": [], "revoke_failed": []}
    q, set_error, chain, chain_error = _state()
    # the policy's render-time set: a restore changes it; an isolate does not (listed once, afterwards)
    iso = _address_set(POLICY, ISOLATED)[0] if action != "isolate" else None
    before = {"quarantine": q, "isolated": iso}
    ans["before"], ans["set_error"] = before, set_error
    ans["chain"], ans["chain_error"] = chain, chain_error
    if before["quarantine"] is None:
        ans["after"] = before
        return ans
    if action == "check":
        if req.get("conntrack"):
            import shutil

            if shutil.which("conntrack") is None:
                ans["conntrack_missing"] = True
            else:
                lines = []
                for n, _c, _k in elements:
                    for flag in ("-s", "-d"):
                        p = subprocess.run(["conntrack", "-L", flag, str(n)], stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, universal_newlines=True, timeout=60)
                        lines += p.stdout.splitlines()
                ans["conns"] = lines
        ans["after"] = before
        return ans
    if action == "isolate":
        if req.get("segments_need_keep") and not _keep_honoured(ans["chain"]):
            ans["no_keep"] = True
            elements = [e for e in elements if e[2] == "entry"]
        todo = [(_elem_val(str(n)), c, n) for n, c, _k in elements]
        cmds = [_element_cmd("add", STATE, QUARANTINE, [{"elem": {"val": v, "comment": c}} for v, c, _n in todo])]
        ans["t0"] = _now()
        rc, out = _apply(cmds) if todo else (0, "")
        ans["t1"] = _now()
        ans["rc"], ans["txn_output"] = rc, out
        if rc != 0:  # one odd element (overlapping one added by hand) never blocks the rest
            for v, c, n in todo:
                if _covered(n, before["quarantine"]):
                    continue
                r, _o = _apply([_element_cmd("add", STATE, QUARANTINE, [{"elem": {"val": v, "comment": c}}])])
                if r != 0:
                    ans["failed"].append(str(n))
    else:  # restore: the planned prefixes and every element tagged with the vendors, in both sets
        wanted = {str(n) for n, _c, _k in elements}
        cmds = []
        for table, name, key in ((STATE, QUARANTINE, "quarantine"), (POLICY, ISOLATED, "isolated")):
            live = before.get(key) or []
            gone = []
            for x in live:
                parts = x["comment"].split()
                tagged = len(parts) >= 2 and parts[0] == "vw-isolate" and parts[1] in vendors
                if x["prefix"] in wanted or tagged:
                    gone.append(x["prefix"])
            if gone:
                cmds.append(_element_cmd("delete", table, name, [_elem_val(p) for p in gone]))
        # the vendors' grants (opened before the isolation, held back by the quarantine meanwhile) are revoked
        # in the same transaction: lifting the quarantine must not revive an approval given before an incident
        revoke = _vendor_grants(vendors) if req.get("revoke_grants") else []
        gcmds = []
        for s_name, val, _c in revoke:
            gcmds.append(_element_cmd("add", STATE, s_name, [{"elem": {"val": val, "timeout": 1}}]))
            gcmds.append(_element_cmd("delete", STATE, s_name, [val]))
        ans["revoked"] = [c for _s, _v, c in revoke]
        ans["t0"] = _now()
        rc, out = _apply(gcmds + cmds) if gcmds or cmds else (0, "")
        ans["t1"] = _now()
        ans["rc"], ans["txn_output"] = rc, out
        if rc != 0:
            for s_name, val, c in revoke:
                r, _o = _apply([_element_cmd("add", STATE, s_name, [{"elem": {"val": val, "timeout": 1}}]),
                                _element_cmd("delete", STATE, s_name, [val])])
                if r != 0:
                    ans["revoke_failed"].append(c)
            ans["revoked"] = [c for c in ans["revoked"] if c not in ans["revoke_failed"]]
            for c in cmds:
                el = c["delete"]["element"]
                for v in el["elem"]:
                    r, _o = _apply([_element_cmd("delete", (el["family"], el["table"]), el["name"], [v])])
                    if r != 0:
                        ans["failed"].append(_val(v))
    listed: Dict[str, Any] = {}
    ans.update(persist(req.get("persist_dir") or "", listed))  # lists the sets (under its lock) into listed
    if action == "isolate":
        ans["before"]["isolated"] = listed.get("isolated")  # unchanged by an isolation
    ans["after"] = {"quarantine": listed.get("quarantine"), "isolated": listed.get("isolated")}
    ans["set_error"] = ans["set_error"] or listed.get("error", "")
    return ans


def _vendor_grants(vendors):
    """The live grant elements of ``vendors`` (comment ``vwgrant=<id> <vendor>/<system> ...``):
    [(set, value as listed, comment)]. A set that cannot be listed has none to revoke."""
    out = []
    listing, _errors = _grant_listing()
    for s_name, elems in sorted(listing.items()):
        for e in elems:
            el = e.get("elem") if isinstance(e, dict) else None
            if not isinstance(el, dict):
                continue
            parts = str(el.get("comment") or "").split()
            if len(parts) >= 2 and parts[0].startswith("vwgrant=") and parts[1].split("/", 1)[0] in vendors:
                out.append((s_name, el.get("val"), " ".join(parts)))
    return out


def _grant_listing():
    sets, errors = {}, {}
    for s in GRANT_SETS:
        elems, err = _list_set(STATE, s)
        if elems is None:
            errors[s] = err
        else:
            sets[s] = elems
    return sets, errors


def _grant_val(el):
    _s, src, dst, port = el
    parts = [_elem_val(src), _elem_val(dst)]
    if port is not None:
        parts.append(port)
    return {"concat": parts}


def _net_of(text):
    if "-" in text:
        a, b = text.split("-", 1)
        return list(ipaddress.summarize_address_range(ipaddress.IPv4Address(a), ipaddress.IPv4Address(b)))
    return [ipaddress.IPv4Network(text if "/" in text else text + "/32")]


def _live_tuples(listing):
    """Every live grant element as (set, source nets, destination nets, port text or None)."""
    out = []
    for s, elems in listing.items():
        for e in elems:
            val = e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e
            parts = val["concat"] if isinstance(val, dict) and "concat" in val else [val]
            try:
                texts = [_val(p) for p in parts]
                out.append((s, _net_of(texts[0]), _net_of(texts[1]), texts[2] if len(texts) > 2 else None))
            except (ValueError, IndexError):
                continue
    return out


def _data(el):
    return {"set": el[0], "src": el[1], "dst": el[2], "port": el[3]}


def _held(el, live):
    """A live element (somebody's grant) covers this tuple: a test grant must neither replace nor delete it
    (in an interval set, adding an equal key resets its timeout and comment, deleting a covered key deletes
    the element that covers it)."""
    s, src, dst, port = el
    src_n, dst_n = ipaddress.IPv4Network(src), ipaddress.IPv4Network(dst)
    for ls, lsrc, ldst, lport in live:
        if ls != s or (port is not None and lport != str(port)):
            continue
        if any(src_n.overlaps(n) for n in lsrc) and any(dst_n.overlaps(n) for n in ldst):
            return True
    return False


def op_grants(req, op):
    ans: Dict[str, Any] = {"ok": True, "rc": None, "output": "", "created": [], "t0": None, "t1": None}
    only_missing, timeout, comment = False, 0, ""
    before, errors = _grant_listing()
    ans["before"], ans["errors"] = before, errors
    if op == "grants_list":
        ans["sets"] = before
        return ans
    elements = _g_elements(req)
    if op == "grants_open":
        timeout = req.get("timeout")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 366 * 86400:
            raise Bad("timeout: seconds, 1 .. 366 days")
        comment = req.get("comment") or ""
        if not COMMENT.match(comment):
            raise Bad("comment: at most 128 of A-Z a-z 0-9 space . _ / : = @ + -")
        only_missing = bool(req.get("only_missing"))
        if only_missing:
            live = _live_tuples(before)
            elements = [e for e in elements if not _held(e, live)]
        by_set: Dict[str, List[Any]] = {}
        for e in elements:
            by_set.setdefault(e[0], []).append({"elem": {"val": _grant_val(e), "timeout": timeout, "comment": comment}})
        cmds = [_element_cmd("create", STATE, s, v) for s, v in sorted(by_set.items())]
        ans["created"] = [_data(e) for e in elements] if only_missing else []
    else:  # close: refresh to 1 s (or re-create) then delete, in one transaction: an element that expires
        # meanwhile is no error
        to_close: Dict[str, List[Any]] = {}
        for e in elements:
            to_close.setdefault(e[0], []).append(e)
        cmds = []
        for s, els in sorted(to_close.items()):
            cmds.append(_element_cmd("add", STATE, s, [{"elem": {"val": _grant_val(e), "timeout": 1}} for e in els]))
            cmds.append(_element_cmd("delete", STATE, s, [_grant_val(e) for e in els]))
    ans["t0"] = _now()
    rc, out = _apply(cmds) if cmds else (0, "")
    ans["t1"] = _now()
    ans["rc"], ans["output"] = rc, out
    if rc != 0 and op == "grants_open" and only_missing:  # test grants: one by one, say which were created
        ans["created"] = []
        for e in elements:
            r, _o = _apply([_element_cmd("create", STATE, e[0], [{"elem": {"val": _grant_val(e), "timeout": timeout,
                                                                            "comment": comment}}])])
            if r == 0:
                ans["created"].append(_data(e))
    elif rc != 0:
        ans["created"] = []
    ans["after"], more = _grant_listing()
    ans["errors"].update(more)
    return ans


def handle(req):
    """One request -> (exit status, answer): 0 when the agent ran (per-item outcomes in the answer)."""
    if not isinstance(req, dict):
        return 2, {"ok": False, "error": "request is not an object"}
    op = req.get("op")
    try:
        if op == "quarantine":
            ans = op_quarantine(req)
        elif op in ("grants_list", "grants_open", "grants_close"):
            ans = op_grants(req, op)
        elif op == "persist":
            ans = dict(persist(req.get("dir") or ""), ok=True)
        else:
            raise Bad("unknown op: %r" % (op,))
    except Bad as exc:
        return 2, {"ok": False, "error": str(exc)}
    return 0, ans


def main():
    try:
        req = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": "request is not JSON: %s" % exc}))
        return 2
    status, ans = handle(req)
    print(json.dumps(ans, sort_keys=True))
    return status


if __name__ == "__main__":
    sys.exit(main())
