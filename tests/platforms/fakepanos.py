"""A small PAN-OS XML API simulator standing in for vendorwall's PanApi (no PAN-OS firewall here).

It keeps a running and a candidate configuration (XML trees) and answers what vendorwall's PAN-OS
pusher and driver call (``get``, ``set`` (merge), ``edit`` (replace), ``delete``, ``move``, ``op``,
``commit``, ``user_id``), as the XML API behaves:

- config and commit locks (``request config-lock / commit-lock add|remove``); a second holder is refused;
- ``check pending-changes``: "yes" when the candidate differs from the running configuration;
- ``load config from running-config.xml``: the candidate back to the running configuration;
- ``commit``: validates that every rule names existing zones, addresses, groups, services and schedules
  (a dangling reference fails the commit, nothing applied), then copies the candidate to running;
- ``user_id``: a uid-message's register / unregister of tags on addresses or networks (timeouts kept);
- ``show object registered-ip all``; ``clear session all filter source`` (recorded);
- calls listed in ``reject`` (by label, e.g. ``"set <xpath>"``) fail as an error answer.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from vendorwall.deploy.errors import CommandError
from vendorwall.deploy.session import Target

_STEP = re.compile(r"([^/\[]+)(?:\[(?:@name='([^']*)'|text\(\)='([^']*)')\])?")


def _steps(xpath: str) -> list[tuple[str, str | None, str | None]]:
    out: list[tuple[str, str | None, str | None]] = []
    i = 0
    xs = xpath.strip("/")
    while i < len(xs):
        m = _STEP.match(xs, i)
        assert m, xpath
        out.append((m.group(1), m.group(2), m.group(3)))
        i = m.end() + 1
    return out


def _parent(xpath: str) -> str:
    """The xpath of the parent node (a '/' inside a [@name='...'] predicate is part of the name)."""
    depth = 0
    for i in range(len(xpath) - 1, -1, -1):
        c = xpath[i]
        if c == "]":
            depth += 1
        elif c == "[":
            depth -= 1
        elif c == "/" and depth == 0:
            return xpath[:i]
    return ""


def _find(root: ET.Element, xpath: str, create: bool = False) -> ET.Element | None:
    steps = _steps(xpath)
    assert steps[0][0] == "config"
    node = root
    for tag, name, text in steps[1:]:
        nxt = None
        for c in node:
            if c.tag == tag and (name is None or c.get("name") == name) and (text is None or c.text == text):
                nxt = c
                break
        if nxt is None:
            if not create:
                return None
            nxt = ET.SubElement(node, tag)
            if name is not None:
                nxt.set("name", name)
            if text is not None:
                nxt.text = text
        node = nxt
    return node


def _canon(el: ET.Element) -> str:
    return ET.tostring(el, encoding="unicode")


@dataclass
class FakePanos:
    running: ET.Element = field(default_factory=lambda: ET.Element("config"))
    candidate: ET.Element = field(default_factory=lambda: ET.Element("config"))
    locks: dict[str, str] = field(default_factory=dict)  # config|commit -> holder
    registered: dict[str, dict[str, int | None]] = field(default_factory=dict)  # ip -> tag -> timeout
    cleared: list[str] = field(default_factory=list)
    commits: int = 0
    reject: set[str] = field(default_factory=set)
    transcript: list[str] = field(default_factory=list)
    after_commit: Any = None

    def session(self, target: Target) -> FakePanApi:
        return FakePanApi(self, target)


class FakePanApi:
    def __init__(self, dev: FakePanos, t: Target):
        self.dev = dev
        self.t = t
        self.log: list[str] = []
        self.me = f"vendorwall-{id(self)}"

    def open(self) -> FakePanApi:
        return self

    def close(self) -> None:
        pass

    def _call(self, label: str) -> None:
        self.log.append(label)
        self.dev.transcript.append(label)
        if label in self.dev.reject:
            self._fail(label, "refused (test)")

    def _fail(self, label: str, msg: str) -> None:
        raise CommandError(self.t.device, self.t.platform, label, msg)

    def _result(self, *children: ET.Element, text: str = "") -> ET.Element:
        r = ET.Element("result")
        r.text = text or None
        r.extend(children)
        return r

    def get(self, xpath: str) -> ET.Element:
        self._call(f"get {xpath}")
        node = _find(self.dev.candidate, xpath)
        return self._result(copy.deepcopy(node)) if node is not None else self._result()

    def _need_lock(self, label: str) -> None:
        holder = self.dev.locks.get("config")
        if holder not in (None, self.me):
            self._fail(label, f"config is locked by {holder}")

    def set(self, xpath: str, element: str) -> ET.Element:
        label = f"set {xpath}"
        self._call(label)
        self._need_lock(label)
        node = _find(self.dev.candidate, xpath, create=True)
        assert node is not None
        for el in ET.fromstring(f"<x>{element}</x>"):
            same = next((c for c in node if c.tag == el.tag and el.tag in ("entry", "member")
                         and (c.get("name") == el.get("name") if el.tag == "entry" else c.text == el.text)), None)
            if same is None:
                node.append(el)
            elif el.tag == "entry":  # set merges into an existing entry
                for child in el:
                    old = same.find(child.tag)
                    if old is not None:
                        same.remove(old)
                    same.append(child)
        return self._result()

    def edit(self, xpath: str, element: str) -> ET.Element:
        label = f"edit {xpath}"
        self._call(label)
        self._need_lock(label)
        parent = _find(self.dev.candidate, _parent(xpath))
        node = _find(self.dev.candidate, xpath)
        if parent is None or node is None:
            self._fail(label, "No such node")
        assert parent is not None and node is not None
        new = ET.fromstring(element)
        parent[list(parent).index(node)] = new
        return self._result()

    def delete(self, xpath: str) -> ET.Element:
        label = f"delete {xpath}"
        self._call(label)
        self._need_lock(label)
        parent = _find(self.dev.candidate, _parent(xpath))
        node = _find(self.dev.candidate, xpath)
        if parent is not None and node is not None:
            parent.remove(node)
        return self._result()

    def move(self, xpath: str, where: str, dst: str | None = None) -> ET.Element:
        label = f"move {xpath} {where} {dst or ''}".rstrip()
        self._call(label)
        self._need_lock(label)
        parent = _find(self.dev.candidate, _parent(xpath))
        node = _find(self.dev.candidate, xpath)
        if parent is None or node is None:
            self._fail(label, "No such node")
        assert parent is not None and node is not None
        parent.remove(node)
        if where == "top":
            parent.insert(0, node)
        elif where == "after":
            ref = next((i for i, c in enumerate(parent) if c.get("name") == dst), None)
            if ref is None:
                self._fail(label, f"no rule {dst}")
            assert ref is not None
            parent.insert(ref + 1, node)
        else:
            self._fail(label, f"unsupported where={where}")
        return self._result()

    def op(self, cmd: str) -> ET.Element:
        root = ET.fromstring(cmd)
        label = f"op {root.tag}"
        self._call(label)
        for kind in ("config", "commit"):
            lock = root.find(f"{kind}-lock")
            if root.tag == "request" and lock is not None:
                holder = self.dev.locks.get(kind)
                if lock.find("add") is not None:
                    if holder not in (None, self.me):
                        self._fail(label, f"{kind} is locked by {holder}")
                    self.dev.locks[kind] = self.me
                elif holder == self.me:
                    del self.dev.locks[kind]
                return self._result()
        if root.tag == "check":
            return self._result(text="yes" if _canon(self.dev.candidate) != _canon(self.dev.running) else "no")
        if root.tag == "load":
            self.dev.candidate = copy.deepcopy(self.dev.running)
            return self._result()
        if root.tag == "show":
            entries = []
            for ip, tags in sorted(self.dev.registered.items()):
                e = ET.Element("entry", ip=ip)
                t = ET.SubElement(e, "tag")
                for tag in sorted(tags):
                    ET.SubElement(t, "member").text = tag
                entries.append(e)
            return self._result(*entries)
        if root.tag == "clear":
            src = root.findtext("session/all/filter/source")
            if not src:
                self._fail(label, "a session clear without a filter is refused by vendorwall's own rule")
            self.dev.cleared.append(src or "")
            return self._result()
        self._fail(label, f"unknown op {root.tag}")
        raise AssertionError

    def commit(self, cmd: str = "<commit></commit>") -> ET.Element:
        self._call("commit")
        holder = self.dev.locks.get("commit")
        if holder not in (None, self.me):
            self._fail("commit", f"commit is locked by {holder}")
        self._validate()
        self.dev.running = copy.deepcopy(self.dev.candidate)
        self.dev.commits += 1
        if self.dev.after_commit:
            self.dev.after_commit(self.dev)
        return self._result()

    def _validate(self) -> None:
        c = self.dev.candidate
        vs = c.find("devices/entry/vsys/entry")
        if vs is None:
            return

        def names(tag: str) -> set[str]:
            node = vs.find(tag)
            return {e.get("name", "") for e in node} if node is not None else set()

        units = {e.get("name") for e in c.iter("units") for e in e.findall("entry")}
        for holder in ("devices/entry/network/virtual-router/entry/interface", "import/network/interface"):
            base = c if holder.startswith("devices") else vs
            for m in base.findall(f"{holder}/member"):
                if m.text not in units:
                    self._fail("commit", f"Validation Error: interface {m.text} does not exist")
        for z in vs.findall("zone/entry"):
            for m in z.findall("network/layer3/member"):
                if m.text not in units:
                    self._fail("commit", f"Validation Error: zone {z.get('name')}: {m.text} does not exist")
        addrs = names("address") | names("address-group") | {"any"}
        svcs = names("service") | {"any", "application-default"}
        zones = names("zone") | {"any"}
        scheds = names("schedule")
        syslog = names("log-settings/syslog")
        for p in vs.findall("log-settings/profiles/entry"):
            for m in p.findall("match-list/entry/send-syslog/member"):
                if m.text not in syslog:
                    self._fail("commit", f"Validation Error: log forwarding profile {p.get('name')}: {m.text} "
                               "is not a valid reference")
        for r in vs.findall("rulebase/security/rules/entry"):
            refs = [(m.text, addrs) for tag in ("source", "destination") for m in r.findall(f"{tag}/member")]
            refs += [(m.text, svcs) for m in r.findall("service/member")]
            refs += [(m.text, zones) for tag in ("from", "to") for m in r.findall(f"{tag}/member")]
            if r.findtext("schedule"):
                refs.append((r.findtext("schedule"), scheds))
            if r.findtext("log-setting"):
                refs.append((r.findtext("log-setting"), names("log-settings/profiles")))
            for name, pool in refs:
                if name not in pool:
                    self._fail("commit", f"Validation Error: rule {r.get('name')}: {name} is not a valid reference")

    def user_id(self, message: str) -> ET.Element:
        self._call("user-id")
        root = ET.fromstring(message)
        for kind in ("register", "unregister"):
            for e in root.findall(f"payload/{kind}/entry"):
                ip = e.get("ip", "")
                for m in e.findall("tag/member"):
                    tags = self.dev.registered.setdefault(ip, {})
                    if kind == "register":
                        tags[m.text or ""] = int(m.get("timeout")) if m.get("timeout") else None
                    else:
                        tags.pop(m.text or "", None)
                if not self.dev.registered.get(ip):
                    self.dev.registered.pop(ip, None)
        return self._result()
