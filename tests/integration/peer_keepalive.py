#!/usr/bin/env python3
"""Client certificates on keep-alive connections (api_peer.c keeps a connection's chain check):
each connection keeps its own identity, and a revocation refuses the very next request of a
connection that was let in before it.

usage: peer_keepalive.py HOST PORT ROOT ADMIN_CERT ADMIN_KEY PEP_CERT PEP_KEY -- REVOKE_CMD...
  REVOKE_CMD revokes ADMIN_CERT. Prints one line per check; exit 1 on the first failure.
       peer_keepalive.py --expiry HOST PORT ROOT ADMIN_CERT ADMIN_KEY NOT_AFTER
  An admin certificate that expires at NOT_AFTER (Unix seconds) while its connection is open:
  let in 20 s before, refused 2 s after on the same connection (the connection's chain check is
  kept 60 s, but never past notAfter)."""
import http.client
import ssl
import subprocess
import sys
import time


def connect(host, port, root, cert, key):
    ctx = ssl.create_default_context(cafile=root)
    ctx.load_cert_chain(cert, key)
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=20)
    c.connect()
    return c


def get(c, path, sock):
    """GET on the connection's socket; fails if http.client had to open another one."""
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if c.sock is not sock:
        sys.exit(f"FAIL {path}: the connection was not kept alive")
    return r.status, body


def expiry():
    host, port, root, cert, key, not_after = sys.argv[2:8]
    not_after = int(not_after)
    time.sleep(max(0, not_after - 20 - time.time()))
    c = connect(host, int(port), root, cert, key)
    sock = c.sock
    st, _ = get(c, "/v1/devices", sock)
    if st != 200 or time.time() >= not_after:
        sys.exit(f"FAIL before notAfter: {st}, not 200 (or the test started too late)")
    time.sleep(max(0, not_after + 2 - time.time()))
    st, body = get(c, "/v1/devices", sock)
    if st != 401 or b"client-certificate-required" not in body:
        sys.exit(f"FAIL 2 s after notAfter, same connection: {st}, not 401")
    print("ok   expired while its connection was open: 200 before notAfter, 401 after")
    c.close()


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "--expiry":
        expiry()
        return
    if len(sys.argv) < 10 or sys.argv[8] != "--":
        sys.exit(__doc__)
    host, port, root, acert, akey, pcert, pkey = sys.argv[1:8]
    revoke = sys.argv[9:]
    a = connect(host, int(port), root, acert, akey)
    p = connect(host, int(port), root, pcert, pkey)
    sa, sp = a.sock, p.sock
    # Interleaved: neither connection's answer may leak into the other's.
    for i in range(3):
        st, _ = get(a, "/v1/devices", sa)
        if st != 200:
            sys.exit(f"FAIL admin connection, request {i + 1}: {st}, not 200")
        st, body = get(p, "/v1/devices", sp)
        if st != 403 or b"forbidden" not in body:
            sys.exit(f"FAIL pep connection on an admin route, request {i + 1}: {st}, not 403")
        st, _ = get(p, "/v1/authz", sp)
        if st in (401, 403):
            sys.exit(f"FAIL pep connection on /v1/authz, request {i + 1}: refused ({st})")
    print("ok   admin and pep identities kept apart over 3 interleaved rounds on 2 connections")
    subprocess.run(revoke, check=True, stdout=subprocess.DEVNULL)
    st, body = get(a, "/v1/devices", sa)
    if st != 401 or b"certificate-revoked" not in body:
        sys.exit(f"FAIL the revoked admin's open connection: {st}, not 401 certificate-revoked")
    st, _ = get(a, "/v1/devices", sa)
    if st != 401:
        sys.exit(f"FAIL the revoked admin's open connection, again: {st}, not 401")
    print("ok   revoked: the next request on the admin's open connection is 401")
    a.close()
    p.close()


main()
