"""A socket filter that stops a listener completing new TCP handshakes (Linux, classic BPF).

Fault: closing a listener that still completes handshakes resets connections on which the
proxy may already have sent a request (a 502 for a POST, which nginx never resends). With
the filter attached, a new connection's SYN is dropped: nginx's connect fails and it sends
the request to another instance, where it was never sent here; the handshakes already under
way complete and are accepted. The drain (serving.drain) attaches it before gunicorn stops.
Proved by tests/e2e/test_restarts.py::test_rolling_restart_behind_nginx_fails_no_request.
"""

from __future__ import annotations

import array
import socket
import struct
import sys

# Classic BPF on a TCP socket sees the TCP header at offset 0; byte 13 holds the flags.
# A SYN without ACK (a new connection) is dropped, every other segment passes.
SYN_FILTER = (
    (0x30, 0, 0, 13),  # ldb [13]
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN, drop, pass
    (0x06, 0, 0, 0),  # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # pass: ret #-1
)
SO_ATTACH_FILTER = 26  # Linux; the socket module does not name it


def drop_syns(listener) -> bool:
    """Attach the SYN filter to a TCP listener (Linux); False where that cannot be done."""
    sock = getattr(listener, "sock", listener)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not sys.platform.startswith("linux"):
        return False
    code = b"".join(struct.pack("HBBI", *insn) for insn in SYN_FILTER)
    # The kernel copies the program from this buffer's address; an array, not ctypes, which
    # the master would load into every worker it forks (0.3 MiB; bench/README.md, memory).
    program = array.array("B", code)
    fprog = struct.pack("HP", len(SYN_FILTER), program.buffer_info()[0])
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True
