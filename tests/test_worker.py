"""The hospital's long-lived worker: length-prefixed frames, and serve() on a real Unix socket."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import threading
import time

import pytest

from fedcost.federation import wire
from fedcost.federation.reasons import REASONS
from fedcost.federation.worker import MAX_REQUEST, peer_uid, recv_msg, send_msg, serve


def test_frames_are_an_8_byte_length_then_the_bytes():
    a, b = socket.socketpair()
    with a, b:
        send_msg(a, b"hello")
        assert b.recv(8) == struct.pack(">Q", 5) == b"\x00\x00\x00\x00\x00\x00\x00\x05"
        assert b.recv(5) == b"hello"
        for msg in (b"", b"one", b"\x00" * 10):  # back to back, each its own frame
            send_msg(a, msg)
        assert [recv_msg(b) for _ in range(3)] == [b"", b"one", b"\x00" * 10]


def test_a_large_frame_arrives_whole():
    big = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB read, more than the socket buffer
    a, b = socket.socketpair()
    with a, b:
        sender = threading.Thread(target=send_msg, args=(a, big))
        sender.start()
        got = recv_msg(b)
        sender.join(5)
    assert got == big


def test_a_peer_that_closes_mid_frame_is_a_connection_error():
    a, b = socket.socketpair()
    with b:
        a.sendall(struct.pack(">Q", 100) + b"only ten b")
        a.close()
        with pytest.raises(ConnectionError, match="peer closed"):
            recv_msg(b)


def _connect(path, deadline: float) -> socket.socket:
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_serve_answers_on_a_private_socket_and_cleans_up(tmp_path):
    sock = tmp_path / "w.sock"
    work = tmp_path / "work"
    own = {"hospital": "H05", "work-dir": str(work)}
    seen: dict = {}

    def client():
        deadline = time.monotonic() + 20
        try:
            # both connections open at once: the second waits in the backlog, so no idle gap can end the worker
            with _connect(sock, deadline) as first, _connect(sock, deadline) as second:
                seen["mode"] = stat.S_IMODE(os.stat(sock).st_mode)
                while not (tmp_path / "w.pid").exists() and time.monotonic() < deadline:
                    time.sleep(0.01)  # written just after the socket starts listening
                seen["pid"] = (tmp_path / "w.pid").read_text()
                first.sendall(b"\x00\x00")  # half a frame, then gone: the worker goes on
                first.close()
                # the relayed node settings are ignored: the worker answers as its own hospital
                send_msg(second, json.dumps({"hospital": "EVIL", "work-dir": str(tmp_path / "elsewhere")}).encode())
                send_msg(second, b"not a fedcost message")
                seen["reply"] = recv_msg(second)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread (the sockets are closed)
            seen["error"] = repr(exc)

    previous = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=client)
    thread.start()
    t0 = time.monotonic()
    try:
        serve(sock, idle=0.5, own_node=own)  # in the main thread: it installs a SIGTERM handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        thread.join(10)
    assert "error" not in seen, seen.get("error")
    assert time.monotonic() - t0 < 15  # it stopped by itself after being idle
    assert seen["mode"] == 0o600 and seen["pid"] == str(os.getpid())
    header, blobs = wire.unpack(seen["reply"])
    assert header == {"hospital": "H05", "status": "refused", "code": "unreadable_request",
                      "reason": REASONS["unreadable_request"]} and blobs == {}
    assert (work / "audit.jsonl").is_file() and not (tmp_path / "elsewhere").exists()
    assert not sock.exists() and not (tmp_path / "w.pid").exists()


def test_an_oversized_announcement_is_refused_before_reading():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">Q", MAX_REQUEST + 1))
        with pytest.raises(ValueError, match="at most"):
            recv_msg(b, MAX_REQUEST)


def test_the_kernel_names_the_peer_and_another_user_gets_no_answer(tmp_path):
    """The worker answers only the relay's user id (SO_PEERCRED), whatever the socket's mode lets connect."""
    a, b = socket.socketpair()
    with a, b:
        assert peer_uid(a) == os.getuid()
    sock = tmp_path / "w.sock"
    seen: dict = {}

    def client():
        deadline = time.monotonic() + 20
        try:
            with _connect(sock, deadline) as conn:
                try:
                    send_msg(conn, b"{}")
                    send_msg(conn, b"not a fedcost message")
                    seen["reply"] = conn.recv(8)  # closed without an answer...
                except (ConnectionResetError, BrokenPipeError):
                    seen["reply"] = b""  # ...or reset, its frames unread (a pipe closed while still sending)
        except Exception as exc:  # noqa: BLE001
            seen["error"] = repr(exc)

    previous = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=client)
    thread.start()
    try:
        serve(sock, idle=0.5, own_node={"hospital": "H05", "work-dir": str(tmp_path / "work")},
              peer=os.getuid() + 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
        thread.join(10)
    assert seen == {"reply": b""}
    assert not (tmp_path / "work" / "audit.jsonl").exists()  # the request was never handled
