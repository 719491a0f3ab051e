#!/usr/bin/env python3
"""Writes the seed corpus of the fix_parser target: one file per client connection (a Logon
then the messages of one scenario), as a FIX client would send them. Run from the repository
root: python3 fuzz/make_seeds.py. The session is CLIENT -> TOKEX, password "pw" (see
crates/fix/src/fuzz.rs)."""

import os

SOH = "\x01"
OUT = os.path.join(os.path.dirname(__file__), "corpus", "fix_parser")
T = "20260101-00:00:00.000"


def frame(body, begin="FIX.4.4", length=None, checksum=None):
    """body: list of (tag, value) after BodyLength."""
    b = "".join(f"{t}={v}{SOH}" for t, v in body)
    head = f"8={begin}{SOH}9={len(b) if length is None else length}{SOH}"
    raw = head + b
    cs = sum(raw.encode("latin-1")) % 256 if checksum is None else checksum
    return raw + f"10={cs:03}{SOH}"


def msg(mt, seq, *fields, sender="CLIENT", target="TOKEX", extra_header=()):
    return frame([(35, mt), (49, sender), (56, target), (34, seq), (52, T), *extra_header, *fields])


def logon(seq=1, pw="pw", hb=30, *more):
    return msg("A", seq, (98, 0), (108, hb), (554, pw), *more)


def order(seq, cl, *fields):
    return msg("D", seq, (11, cl), (55, "TKF-2026-12"), (54, 1), (60, T), *fields)


def limit(seq, cl, qty=5, px="8.125", *more):
    return order(seq, cl, (38, qty), (40, 2), (44, px), *more)


SEEDS = {
    "logon": [logon()],
    "logon-reset": [logon(1, "pw", 30, (141, "Y"))],
    "logon-username": [logon(1, "pw", 30, (553, "acme"))],
    "logon-wrong-password": [logon(1, "nope")],
    "logon-heartbeat-out-of-bounds": [logon(1, "pw", 0)],
    "logon-high-seq": [logon(5)],
    "logon-unknown-compid": [msg("A", 1, (98, 0), (108, 30), (554, "pw"), sender="OTHER")],
    "not-a-logon-first": [limit(1, "o1")],
    "heartbeat": [logon(), msg("0", 2)],
    "test-request": [logon(), msg("1", 2, (112, "T1"))],
    "logout": [logon(), msg("5", 2, (58, "bye"))],
    "order-limit": [logon(), limit(2, "o1")],
    "order-limit-decimals": [logon(), limit(2, "o1", "5.00", "8.1250")],
    "order-off-tick": [logon(), limit(2, "o1", 5, "8.1255")],
    "order-market": [logon(), order(2, "m1", (38, 3), (40, 1))],
    "order-stop": [logon(), order(2, "s1", (38, 2), (40, 3), (99, "8.5"))],
    "order-stop-limit": [logon(), order(2, "s2", (38, 2), (40, 4), (44, "8.6"), (99, "8.5"))],
    "order-gtd-time": [logon(), limit(2, "g1", 1, "8", (59, 6), (126, "20270101-00:00:00"))],
    "order-gtd-date": [logon(), limit(2, "g2", 1, "8", (59, 6), (432, "20261231"))],
    "order-ioc-minqty": [logon(), limit(2, "i1", 10, "8", (59, 3), (110, 4))],
    "order-fok": [logon(), limit(2, "f1", 10, "8", (59, 4))],
    "order-post-only-iceberg": [logon(), limit(2, "p1", 10, "8", (18, 6), (111, 2), (59, 1))],
    "order-account": [logon(), limit(2, "a1", 1, "8", (1, 2))],
    "order-gpu": [logon(), msg("D", 2, (11, "gpu1"), (55, "GPU-2026-12"), (54, 2), (60, T), (38, 1), (40, 2), (44, "1.75"))],
    "order-unknown-symbol": [logon(), msg("D", 2, (11, "u1"), (55, "NOPE"), (54, 1), (60, T), (38, 1), (40, 2), (44, "1"))],
    "orders-several": [logon(), limit(2, "o1"), limit(3, "o2", 1, "8.2"), limit(4, "o3", 2, "7.9")],
    "cancel": [logon(), msg("F", 2, (41, "c1"), (11, "c1-x"), (55, "TKF-2026-12"), (54, 1), (60, T))],
    "cancel-by-order-id": [logon(), msg("F", 2, (37, 9), (41, "zz"), (11, "c1-x"), (55, "TKF-2026-12"), (54, 1), (60, T))],
    "replace": [logon(), msg("G", 2, (41, "c1"), (11, "c1-r"), (55, "TKF-2026-12"), (54, 1), (60, T), (38, 12), (40, 2), (44, "8.2"))],
    "status": [logon(), msg("H", 2, (11, "c1"), (55, "TKF-2026-12"), (54, 1))],
    "status-unknown": [logon(), msg("H", 2, (11, "nope"), (55, "TKF-2026-12"), (54, 1))],
    "mass-cancel-symbol": [logon(), msg("q", 2, (11, "mc1"), (530, 1), (55, "TKF-2026-12"), (60, T))],
    "mass-cancel-product": [logon(), msg("q", 2, (11, "mc3"), (530, 3), (55, "TKF"), (60, T))],
    "mass-cancel-all-side": [logon(), msg("q", 2, (11, "mc7"), (530, 7), (54, 2), (60, T))],
    "security-list-all": [logon(), msg("x", 2, (320, "r1"), (559, 4))],
    "security-list-one": [logon(), msg("x", 2, (320, "r2"), (559, 0), (55, "TKF-2026-12"))],
    "resend-request": [logon(), limit(2, "o1"), msg("2", 3, (7, 1), (16, 0))],
    "gap-then-fill": [logon(), limit(4, "o3"), msg("4", 2, (123, "Y"), (36, 4)), limit(4, "o3", 5, "8.125")],
    "sequence-reset": [logon(), msg("4", 2, (36, 10)), msg("0", 10)],
    "sequence-reset-backwards": [logon(), msg("4", 2, (36, 1))],
    "poss-dup": [logon(), limit(2, "o1"), msg("D", 2, (11, "o1"), (55, "TKF-2026-12"), (54, 1), (60, T), (38, 5), (40, 2), (44, "8.125"), extra_header=((43, "Y"), (122, T)))],
    "seq-too-low": [logon(), msg("0", 1)],
    "unsupported-quote-request": [logon(), msg("R", 2, (131, "q1"), (146, 1), (55, "TKF-2026-12"))],
    "reject-missing-tag": [logon(), msg("D", 2, (11, "o1"), (55, "TKF-2026-12"), (60, T), (38, 1), (40, 2), (44, "8"))],
    "reject-duplicate-tag": [logon(), limit(2, "o1", 1, "8", (54, 2))],
    "reject-unknown-msgtype": [logon(), msg("ZZ", 2)],
    "reject-undefined-tag": [logon(), limit(2, "o1", 1, "8", (4999, "x"))],
    "reject-tag-not-for-type": [logon(), limit(2, "o1", 1, "8", (108, 30))],
    "reject-empty-value": [logon(), limit(2, "o1", 1, "8", (58, ""))],
    "reject-not-an-integer": [logon(), msg("0", "two")],
    "user-defined-tag": [logon(), limit(2, "o1", 1, "8", (5001, "custom"))],
    "garbled-junk": ["hello\r\n", logon(), "\x00\xff", msg("0", 2)],
    "garbled-begin-string": [frame([(35, "A"), (49, "CLIENT"), (56, "TOKEX"), (34, 1), (52, T)], begin="FIX.4.2"), logon()],
    "garbled-checksum": [logon(), frame([(35, "0"), (49, "CLIENT"), (56, "TOKEX"), (34, 2), (52, T)], checksum=0), msg("0", 2)],
    "garbled-body-length-short": [logon(), frame([(35, "0"), (49, "CLIENT"), (56, "TOKEX"), (34, 2), (52, T)], length=10), msg("0", 2)],
    "garbled-body-length-long": [logon(), frame([(35, "0"), (49, "CLIENT"), (56, "TOKEX"), (34, 2), (52, T)], length=900), msg("0", 2)],
    "garbled-truncated": [logon(), limit(2, "o1")[:40]],
    "compid-change": [logon(), msg("0", 2, sender="OTHER")],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, parts in SEEDS.items():
        data = "".join(parts).encode("latin-1")
        with open(os.path.join(OUT, name + ".fix"), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
