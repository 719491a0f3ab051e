#!/usr/bin/env python3
"""Sends garbled and malformed FIX to the gateway over a raw socket (QuickFIX will not send
such bytes) and checks the answers the FIX standard asks for. Standard library only.

    garble.py PORT
"""
import socket
import sys
import time

SOH = b"\x01"
PORT = int(sys.argv[1])
FAILED = []


def frame(body: bytes, length_delta=0, checksum_delta=0) -> bytes:
    head = b"8=FIX.4.4" + SOH + b"9=" + str(len(body) + length_delta).encode() + SOH
    msg = head + body
    cs = (sum(msg) + checksum_delta) % 256
    return msg + b"10=" + ("%03d" % cs).encode() + SOH


def body(mt, seq, fields, sender="RAW", target="TOKEX"):
    parts = [("35", mt), ("49", sender), ("56", target), ("34", str(seq)),
             ("52", time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))] + fields
    return b"".join(k.encode() + b"=" + v.encode() + SOH for k, v in parts)


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        self.buf = b""

    def send(self, raw: bytes):
        self.s.sendall(raw)

    def recv(self, timeout=5):
        """The next message as a dict (first value of each tag), or None on timeout/close."""
        deadline = time.time() + timeout
        while True:
            end = self.buf.find(SOH + b"10=")
            if end >= 0 and len(self.buf) >= end + 8:
                raw, self.buf = self.buf[: end + 8], self.buf[end + 8:]
                fields = {}
                for part in raw.split(SOH):
                    if b"=" in part:
                        k, v = part.split(b"=", 1)
                        fields.setdefault(int(k), v.decode())
                print("       <- " + raw.replace(SOH, b"|").decode())
                return fields
            left = deadline - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk


def check(what, cond):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        FAILED.append(what)


def expect(c, what, pred):
    for _ in range(10):
        m = c.recv()
        if m is None:
            break
        if pred(m):
            check(what, True)
            return m
    check(what, False)
    return None


def main():
    print("== garbled and malformed input")
    c = Conn()
    c.send(frame(body("A", 1, [("98", "0"), ("108", "5"), ("141", "Y"), ("554", "raw-secret")])))
    expect(c, "Logon accepted", lambda m: m.get(35) == "A")
    # Garbled: ignored, no sequence number consumed.
    c.send(b"GARBAGE\r\n")
    c.send(frame(body("1", 2, [("112", "bad-checksum")]), checksum_delta=1))
    c.send(frame(body("1", 2, [("112", "bad-length")]), length_delta=4))
    c.send(frame(body("1", 2, [("112", "bad-length")]), length_delta=-4))
    c.send(frame(body("1", 2, [("112", "alive")])))
    m = expect(c, "garbled frames ignored: TestRequest 2 answered with Heartbeat", lambda m: m.get(35) == "0")
    check("the Heartbeat carries TestReqID alive", m is not None and m.get(112) == "alive")
    order = [("11", "G1"), ("55", "TKF-2099-01"), ("54", "1"), ("60", "20260101-00:00:00"), ("38", "1"), ("40", "2"), ("44", "1")]
    no_side = [f for f in order if f[0] != "54"]
    c.send(frame(body("D", 3, no_side)))
    expect(c, "missing Side: Reject 373=1 371=54 45=3",
           lambda m: m.get(35) == "3" and m.get(373) == "1" and m.get(371) == "54" and m.get(45) == "3")
    c.send(frame(body("ZZ", 4, [])))
    expect(c, "unknown MsgType: Reject 373=11", lambda m: m.get(35) == "3" and m.get(373) == "11")
    c.send(frame(body("D", 5, order + [("38", "2")])))
    expect(c, "duplicate tag 38: Reject 373=13 371=38",
           lambda m: m.get(35) == "3" and m.get(373) == "13" and m.get(371) == "38")
    c.send(frame(body("D", 6, order + [("4999", "x")])))
    expect(c, "undefined tag 4999: Reject 373=0", lambda m: m.get(35) == "3" and m.get(373) == "0")
    c.send(frame(body("0", 9, [])))
    expect(c, "MsgSeqNum 9 when 7 expected: ResendRequest 7=7 16=0",
           lambda m: m.get(35) == "2" and m.get(7) == "7" and m.get(16) == "0")
    dup = [("43", "Y"), ("122", "20260101-00:00:00")]
    c.send(frame(body("4", 7, dup + [("123", "Y"), ("36", "10")])))
    c.send(frame(body("1", 10, [("112", "after-gap")])))
    expect(c, "gap filled: TestRequest 10 answered", lambda m: m.get(35) == "0" and m.get(112) == "after-gap")
    c.send(frame(body("1", 3, dup + [("112", "dup")])))
    c.send(frame(body("1", 11, [("112", "after-dup")])))
    m = expect(c, "PossDup with a low MsgSeqNum ignored; the next message answered",
               lambda m: m.get(35) == "0" and m.get(112) in ("dup", "after-dup"))
    check("the possible duplicate got no answer", m is not None and m.get(112) == "after-dup")
    c.send(frame(body("5", 12, [])))
    expect(c, "Logout answered", lambda m: m.get(35) == "5")

    print("== bad credentials")
    c2 = Conn()
    c2.send(frame(body("A", 1, [("98", "0"), ("108", "5"), ("554", "wrong")])))
    expect(c2, "Logon with a wrong password: Logout with Text",
           lambda m: m.get(35) == "5" and "password" in m.get(58, ""))
    check("connection closed after the refused Logon", c2.recv(timeout=3) is None)
    c3 = Conn()
    c3.send(frame(body("A", 1, [("98", "0"), ("108", "5"), ("554", "x")], sender="NOBODY")))
    check("unknown CompID: disconnected", c3.recv(timeout=3) is None)

    if FAILED:
        print("garble FAILED: " + "; ".join(FAILED))
        sys.exit(1)
    print("garble passed")


if __name__ == "__main__":
    main()
