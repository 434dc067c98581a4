"""A NetBox REST API replay on loopback: recorded list responses, real HTTP, real pynetbox.

``tests/importers/netbox/<app>.<endpoint>.json`` hold ``GET /api/<app>/<endpoint>/`` responses
in NetBox's documented shape (``count``, ``next``, ``previous``, ``results``). The server
answers list requests (with NetBox-style filters: ``?group=slug``, ``?site=slug&vid=N``,
``?prefix=P``), detail requests (``/<id>/``), and applies POST and PATCH to its in-memory copy,
so a write-back can be run twice and the second run must change nothing. Every request is
recorded (method, path, JSON body) for assertions; a wrong token gets HTTP 403 like NetBox.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

DATA = Path(__file__).parent / "netbox"
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a fictional token for the replay only
_REFS = {"site": "dcim.sites", "tenant": "tenancy.tenants", "vlan": "ipam.vlans", "scope": "dcim.sites"}


class Replay:
    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {}
        for f in sorted(DATA.glob("*.json")):
            self.data[f.stem] = json.loads(f.read_text(encoding="utf-8"))["results"]
        self.requests: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("API-Version", "4.2")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with replay.lock:
                    replay.requests.append((method, self.path, body))
                    if self.headers.get("Authorization") != f"Token {TOKEN}":
                        self._send(403, {"detail": "Invalid token"})
                        return
                    code, out = replay.answer(method, self.path, body)
                self._send(code, out)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] != "GET"]

    # ------------------------------------------------------------------ API
    def answer(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        url = urlparse(raw_path)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) < 3 or parts[0] != "api":
            return 404, {"detail": "Not found."}
        key = f"{parts[1]}.{parts[2]}"
        items = self.data.setdefault(key, [])
        if len(parts) == 4:
            obj = next((o for o in items if str(o["id"]) == parts[3]), None)
            if obj is None:
                return 404, {"detail": "Not found."}
            if method == "PATCH":
                obj.update(self._resolve(body))
            return 200, obj
        if method == "POST":
            obj = {"id": max((o["id"] for o in items), default=0) + 1, **self._resolve(body)}
            items.append(obj)
            return 201, obj
        query = {k: v[0] for k, v in parse_qs(url.query).items() if k not in ("limit", "offset", "brief")}
        found = [o for o in items if all(self._match(o, k, v) for k, v in query.items())]
        return 200, {"count": len(found), "next": None, "previous": None, "results": found}

    def _resolve(self, body: dict[str, Any]) -> dict[str, Any]:
        out = dict(body)
        for k, v in body.items():
            if k in _REFS and isinstance(v, int):
                ref = next((o for o in self.data.get(_REFS[k], []) if o["id"] == v), {"id": v})
                out[k] = {x: ref[x] for x in ("id", "slug", "name", "vid") if x in ref}
            if k == "tags":
                out[k] = [{"id": t} for t in v]
            if k == "scope_id":
                out["scope"] = {"id": v}
        return out

    @staticmethod
    def _match(obj: dict[str, Any], key: str, value: str) -> bool:
        cur = obj.get(key)
        if isinstance(cur, dict):
            return value in (str(cur.get("slug")), str(cur.get("id")), str(cur.get("value")))
        return str(cur) == value
