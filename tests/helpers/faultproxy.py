"""A TCP proxy on a free loopback port whose behaviour a test switches at run time.

Put it between the app and a real server (MariaDB, Redis, RabbitMQ, gunicorn) and call
``proxy.mode = ...``:

- ``forward``: pass bytes both ways;
- ``refuse``: the port refuses connections (the listener is closed) and open ones are reset:
  a server that is down;
- ``blackhole``: connections are accepted and open ones stay open, but nothing is passed
  either way: a network partition. Leaving it resets the connections it held, as TCP
  would after its timeouts;
- ``cut()``: reset every open connection now, keep the mode.

One thread runs a selector loop, so mode changes never race a blocked ``recv``.
"""

from __future__ import annotations

import queue
import selectors
import socket
import struct
import threading

FORWARD, REFUSE, BLACKHOLE = "forward", "refuse", "blackhole"
MODES = (FORWARD, REFUSE, BLACKHOLE)
CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN, as a dead peer's kernel would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self._mode = FORWARD
        self._listener: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._held: set[socket.socket] = set()  # accepted or open while black-holed
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._running = False
        self.accepted = 0

    # -- control (any thread) ------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=f"faultproxy:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._running:
            self._call(self._shutdown)
            self._thread.join(5)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self._call(lambda: self._set_mode(mode))

    def cut(self) -> None:
        self._call(self._cut_all)

    @property
    def url_host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def _call(self, func) -> None:
        """Run ``func`` on the loop thread and wait for it."""
        done = threading.Event()
        self._commands.put((func, done))
        self._wake_w.send(b"x")
        if not done.wait(5):
            raise RuntimeError("fault proxy loop did not answer")

    # -- loop thread -------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(512)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        if self._running:
            self._selector.register(listener, selectors.EVENT_READ, "accept")

    def _set_mode(self, mode: str) -> None:
        previous, self._mode = self._mode, mode
        if previous == BLACKHOLE and mode != BLACKHOLE:
            for sock in list(self._held):
                self._drop(sock)
            self._held.clear()
        if mode == REFUSE:
            self._cut_all()
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
        elif self._listener is None:
            self._listen()
        if mode == BLACKHOLE:
            self._held.update(self._peers)

    def _cut_all(self) -> None:
        for sock in list(self._peers):
            self._drop(sock)
        for sock in list(self._held):
            self._drop(sock)
        self._held.clear()

    def _drop(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._peers.pop(s, None)
            self._held.discard(s)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            _reset(s)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self.accepted += 1
        if self._mode == BLACKHOLE:
            client.setblocking(False)
            self._held.add(client)
            self._selector.register(client, selectors.EVENT_READ, "held")
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.settimeout(2)  # sends only: reads happen when the selector says so
        self._peers[client], self._peers[upstream] = upstream, client
        self._selector.register(client, selectors.EVENT_READ, "pipe")
        self._selector.register(upstream, selectors.EVENT_READ, "pipe")

    def _pump(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(CHUNK)
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        if self._mode == BLACKHOLE or sock in self._held:
            return  # swallowed: a partition passes nothing
        try:
            self._peers[sock].sendall(data)
        except (OSError, KeyError):
            self._drop(sock)

    def _shutdown(self) -> None:
        self._running = False
        self._cut_all()
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _loop(self) -> None:
        if self._listener is not None:
            self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        while self._running:
            for key, _ in self._selector.select(0.5):
                if key.data == "wake":
                    self._wake_r.recv(4096)
                    while not self._commands.empty():
                        func, done = self._commands.get()
                        try:
                            func()
                        finally:
                            done.set()
                elif key.data == "accept":
                    if self._listener is not None:
                        self._accept()
                elif key.fileobj in self._peers or key.fileobj in self._held:
                    self._pump(key.fileobj)
        self._selector.close()
