#!/usr/bin/python3
"""The client loop of test_faults.sh: issues and revokes through the HTTPS API of a ztca serve
while the test injects a fault, and writes down exactly what it was handed, so that the test can
then hold the store to it.

usage: faults_client.py CA_DIR HTTPS_PORT OUT_DIR CSR... (one worker thread per CSR)

Each worker loops until OUT_DIR/stop exists: POST /v1/tokens (admin), POST /v1/certs with that
token, and every second certificate POST /v1/certs/{serial}/revoke (keyCompromise). A revocation
that got no 2xx stays pending and is retried on the next round. Written as it happens, one line
per event, flushed at once:
  OUT_DIR/issued    serial of every 201 (its PEM in OUT_DIR/certs/SERIAL.pem first)
  OUT_DIR/revoked   serial of every acknowledged revocation (200, or 409 already-revoked for one
                    whose earlier answer was lost: either way the server said it is revoked)
  OUT_DIR/events    "<unix ns> <route> <status>" per request (status 0: cut off without an
                    HTTP answer, -1: connection refused)
and at the end OUT_DIR/stats.json: counts per route and status, and every answer that breaks the
API contract (a 5xx other than 503, an error without problem+json, an unexpected 4xx).
"""
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

ca_dir, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
csrs = [open(f).read() for f in sys.argv[4:]]
os.makedirs(out + "/certs", exist_ok=True)

admin = ssl.create_default_context(cafile=ca_dir + "/ca/root.pem")
admin.load_cert_chain(ca_dir + "/admin/cert.pem", ca_dir + "/admin/key.pem")
anon = ssl.create_default_context(cafile=ca_dir + "/ca/root.pem")

lock = threading.Lock()
counts = {}
contract = []  # answers that break docs/api.md, whatever the fault
files = {n: open(out + "/" + n, "a") for n in ("issued", "revoked", "events")}


def note(name, line):
    with lock:
        files[name].write(line + "\n")
        files[name].flush()


def call(route, method, path, body, ctx, headers=None, ok=(200, 201)):
    """One request on a new connection (the server may have died since the last one).
    Returns (status, parsed JSON or None); status 0 or -1 when no HTTP answer came."""
    status, doc = 0, None
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        data = json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        status = r.status
        ctype = r.getheader("Content-Type", "")
        doc = json.loads(raw) if raw and "json" in ctype else None
        if status not in ok:
            if ctype != "application/problem+json" or not isinstance(doc, dict) or doc.get("status") != status:
                contract.append(f"{route} {status} not problem+json: {raw[:200]!r}")
            elif status >= 500 and status != 503:
                contract.append(f"{route} {status} {doc.get('type')}: {doc.get('detail')}")
            elif status == 503 and r.getheader("Retry-After") is None:
                contract.append(f"{route} 503 without Retry-After")
            elif 400 <= status < 500 and not (route == "revoke" and status == 409):
                contract.append(f"{route} {status} {doc.get('type')}: {doc.get('detail')}")
    except ConnectionRefusedError:
        status = -1  # nobody listening: the request never reached a server
    except (ConnectionError, http.client.HTTPException, socket.timeout, ssl.SSLError, OSError):
        status = 0  # cut off: in flight when the server died
    finally:
        c.close()
    note("events", f"{time.time_ns()} {route} {status}")
    with lock:
        counts[f"{route} {status}"] = counts.get(f"{route} {status}", 0) + 1
    return status, doc


def worker(csr):
    pending = []  # serials to revoke whose revocation was not acknowledged yet
    n = 0
    while not os.path.exists(out + "/stop"):
        for serial in list(pending):
            st, doc = call("revoke", "POST", f"/v1/certs/{serial}/revoke", {"reason": "keyCompromise"}, admin,
                           ok=(200,))
            if st == 200 or (st == 409 and isinstance(doc, dict) and doc.get("type", "").endswith(":already-revoked")):
                pending.remove(serial)
                note("revoked", serial)
        st, doc = call("token", "POST", "/v1/tokens", {"user": "fault", "profile": "agent", "ttl": "1h"}, admin,
                       ok=(201,))
        if st != 201:
            time.sleep(0.05)
            continue
        st, doc = call("issue", "POST", "/v1/certs", {"csr": csr}, anon,
                       headers={"Authorization": "Bearer " + doc["token"]}, ok=(201,))
        if st != 201:
            time.sleep(0.05)
            continue
        serial = doc["serial"]
        with open(f"{out}/certs/{serial}.pem", "w") as f:
            f.write(doc["certificate"])
        note("issued", serial)
        n += 1
        if n % 2 == 0:
            pending.append(serial)


threads = [threading.Thread(target=worker, args=(c,)) for c in csrs]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out + "/stats.json", "w") as f:
    json.dump({"counts": counts, "contract": contract}, f, indent=1, sort_keys=True)
