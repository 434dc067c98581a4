"""The lab's service listener: one process serving every system's ports in every namespace.

    python3 -m vendorwall.lab.listener SPEC.json

SPEC maps a network namespace to ``[address, protocol, port]`` triples. Sockets are opened inside
each namespace (``setns`` from this thread, see netns.py) and then served by one asyncio loop:
TCP accepts and answers ``vw <namespace>``, UDP echoes. Prints ``ready <n>`` once listening.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import sys

from .netns import in_netns


def open_sockets(spec: dict[str, list[list[object]]]) -> list[tuple[str, socket.socket, str]]:
    out = []
    for ns, entries in sorted(spec.items()):
        with in_netns(ns):
            for addr, proto, port in entries:
                kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
                s = socket.socket(socket.AF_INET, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((str(addr), int(port)))  # type: ignore[call-overload]
                if proto == "tcp":
                    s.listen(128)
                s.setblocking(False)
                out.append((ns, s, str(proto)))
    return out


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def serve(sockets: list[tuple[str, socket.socket, str]]) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    def _stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop)

    for ns, s, proto in sockets:
        if proto == "tcp":
            banner = f"vw {ns}\n".encode()

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, b: bytes = banner) -> None:
                try:
                    writer.write(b)
                    await writer.drain()
                finally:
                    writer.close()

            await asyncio.start_server(handle, sock=s)
        else:
            await loop.create_datagram_endpoint(_Echo, sock=s)
    print(f"ready {len(sockets)}", flush=True)
    await stop


def main(argv: list[str]) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(argv[0]) as fh:
        spec = json.load(fh)
    asyncio.run(serve(open_sockets(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
