#!/usr/bin/env python3
"""tests/wsclient.py -- a small websocket client (RFC 6455), standard library only.

Owns the client side of the simulator's trade_updates stream tests
(tests/test_sim_stream.sh): the handshake (checks the 101 and
Sec-WebSocket-Accept), masked client frames, server frames of every opcode
(text and binary alike), and a few deliberately broken frames to see the
server refuse them.  Why not a package: the tests need nothing installed and
must be able to send what a well-behaved library never would.

As a program:

    wsclient.py ws://127.0.0.1:PORT/stream [STEP...] [--seconds S] [--count N]
                [--ping-every MS]

connects, runs the steps in order, and prints one JSON line per thing
received, as it arrives (flushed), each with "t", the receive time (Unix
seconds, float):
    {"t":..,"type":"open"}                          the handshake succeeded
    {"t":..,"type":"refused","status":426,"body":".."}  it did not (exit 1)
    {"t":..,"type":"text"|"binary","msg":{..}}     a data frame (JSON; else "raw")
    {"t":..,"type":"ping"|"pong","data":".."}
    {"t":..,"type":"close","code":1000,"reason":".."}  (code null: none given)
    {"t":..,"type":"eof"} / {"type":"reset"}        the TCP connection ended
    {"t":..,"type":"done"}                         --seconds or --count reached
A close frame from the server is answered with a close (as RFC 6455 asks).
After the steps it reads until the server ends the connection, --seconds
pass (then it sends a close 1000 and waits a second for the answer) or
--count trade_updates messages have come; --ping-every sends a ping that
often meanwhile.

Steps:
    auth:KEY:SECRET    {"action":"authenticate","data":{"key_id":..,"secret_key":..}}
    listen:A,B         {"action":"listen","data":{"streams":["A","B"]}} ("listen:" = [])
    send:TEXT          a text frame        sendb:TEXT   a binary frame
    ping:DATA          a ping              close:CODE   a close frame
    frag:N:TEXT        TEXT as one text message in N fragments, a ping after the first
    part:TEXT          the first fragment of a text message that never ends
    unmasked:TEXT      a text frame without a mask (the server must close: 1002)
    big:N              a text frame of N bytes
    wait:STREAM        waits (5 s at most) for a message whose "stream" is STREAM
    sleep:MS           waits MS milliseconds
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPCODES = {0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}


class Refused(Exception):
    """The server answered the handshake with something other than 101."""

    def __init__(self, status, body):
        super().__init__(f"handshake refused: {status}")
        self.status = status
        self.body = body


class WSClient:
    """One websocket connection; send from one thread, receive from one."""

    def __init__(self, url, timeout=5.0):
        u = urllib.parse.urlparse(url)
        if u.scheme != "ws":
            raise ValueError("only ws:// URLs")
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path or "/"
        request = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Refused(0, "connection closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 101:
            length = int(headers.get("content-length", "0"))
            while len(self.buf) < length:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
            raise Refused(status, self.buf[:length].decode("utf-8", "replace"))
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise Refused(status, "wrong Sec-WebSocket-Accept")
        self.sock.settimeout(None)

    def send_frame(self, opcode, payload=b"", fin=True, masked=True):
        if isinstance(payload, str):
            payload = payload.encode()
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        mbit = 0x80 if masked else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack(">H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack(">Q", n)
        if masked:
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            head += mask
        self.sock.sendall(head + payload)

    def send_text(self, text):
        self.send_frame(0x1, text)

    def close(self, code=1000, reason=""):
        self.send_frame(0x8, struct.pack(">H", code) + reason.encode())

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_frame(self):
        """The next frame: (fin, opcode, payload).  EOFError at the end."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if b1 & 0x80:
            raise ValueError("the server masked a frame")
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._need(n)


def emit(obj):
    obj = {"t": time.time(), **obj}
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Session:
    """The program: a reader thread printing what comes, the steps in this one."""

    def __init__(self, client, count):
        self.c = client
        self.count = count
        self.events = 0
        self.streams = []
        self.cond = threading.Condition()
        self.ended = False
        self.closing = False

    def reader(self):
        try:
            while True:
                fin, op, payload = self.c.recv_frame()
                kind = OPCODES.get(op, f"opcode-{op}")
                if op in (0x1, 0x2):
                    try:
                        out = {"type": kind, "msg": json.loads(payload), "fin": fin}
                    except ValueError:
                        out = {"type": kind, "raw": payload.decode("utf-8", "replace"), "fin": fin}
                    emit(out)
                    stream = out.get("msg", {}).get("stream") if isinstance(out.get("msg"), dict) else None
                    with self.cond:
                        self.streams.append(stream)
                        if stream == "trade_updates":
                            self.events += 1
                        self.cond.notify_all()
                elif op == 0x8:
                    code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                    emit({"type": "close", "code": code,
                          "reason": payload[2:].decode("utf-8", "replace")})
                    if not self.closing:
                        try:
                            self.c.send_frame(0x8, payload[:2])
                        except OSError:
                            pass
                else:
                    emit({"type": kind, "data": payload.decode("utf-8", "replace")})
        except EOFError:
            emit({"type": "eof"})
        except OSError as e:
            emit({"type": "reset", "error": str(e)})
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait_stream(self, name, seconds=5.0):
        with self.cond:
            self.cond.wait_for(lambda: name in self.streams or self.ended, seconds)

    def step(self, s):
        kind, _, arg = s.partition(":")
        c = self.c
        if kind == "auth":
            key, _, secret = arg.partition(":")
            c.send_text(json.dumps({"action": "authenticate",
                                    "data": {"key_id": key, "secret_key": secret}}))
        elif kind == "listen":
            c.send_text(json.dumps({"action": "listen",
                                    "data": {"streams": [x for x in arg.split(",") if x]}}))
        elif kind == "send":
            c.send_text(arg)
        elif kind == "sendb":
            c.send_frame(0x2, arg)
        elif kind == "ping":
            c.send_frame(0x9, arg)
        elif kind == "close":
            self.closing = True
            c.close(int(arg))
        elif kind == "frag":
            n, _, text = arg.partition(":")
            data = text.encode()
            size = max(1, -(-len(data) // int(n)))
            parts = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
            for i, part in enumerate(parts):
                c.send_frame(0x1 if i == 0 else 0x0, part, fin=i == len(parts) - 1)
                if i == 0:
                    c.send_frame(0x9, "between")
        elif kind == "part":
            c.send_frame(0x1, arg, fin=False)
        elif kind == "unmasked":
            c.send_frame(0x1, arg, masked=False)
        elif kind == "big":
            c.send_frame(0x1, "x" * int(arg))
        elif kind == "wait":
            self.wait_stream(arg)
        elif kind == "sleep":
            time.sleep(int(arg) / 1000)
        else:
            raise SystemExit(f"wsclient: unknown step {s}")


def main(argv):
    args, steps = [], []
    opts = {"--seconds": 10.0, "--count": 0, "--ping-every": 0}
    i = 0
    while i < len(argv):
        if argv[i] in opts:
            opts[argv[i]] = float(argv[i + 1])
            i += 2
            continue
        (steps if args else args).append(argv[i])
        i += 1
    if not args:
        raise SystemExit(__doc__)
    try:
        client = WSClient(args[0])
    except Refused as e:
        emit({"type": "refused", "status": e.status, "body": e.body})
        return 1
    emit({"type": "open"})
    s = Session(client, int(opts["--count"]))
    threading.Thread(target=s.reader, daemon=True).start()
    try:
        for st in steps:
            s.step(st)
    except OSError as e:
        emit({"type": "send-failed", "error": str(e)})
    deadline = time.time() + opts["--seconds"]
    ping_every = opts["--ping-every"] / 1000
    next_ping = time.time() + ping_every if ping_every else None
    with s.cond:
        while not s.ended and time.time() < deadline and not (s.count and s.events >= s.count):
            wake = deadline if next_ping is None else min(deadline, next_ping)
            s.cond.wait(max(0.0, wake - time.time()))
            if next_ping is not None and time.time() >= next_ping and not s.ended:
                try:
                    client.send_frame(0x9, "keepalive")
                except OSError:
                    pass
                next_ping += ping_every
    if not s.ended:
        emit({"type": "done"})
        try:
            s.closing = True
            client.close(1000)
            with s.cond:
                s.cond.wait_for(lambda: s.ended, 1.0)
        except OSError:
            pass
    client.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
