"""Drives mailhost's POP3 server with Python's poplib, as a mail client would.

usage: poplib_client.py MODE HOST PORT USER PASSWORD
MODE: plain (USER/PASS in clear), stls (STLS then USER/PASS),
      ssl (POP3 over implicit TLS), authplain (AUTH PLAIN after STLS).
Prints one JSON object: what the client saw. Deletes message 1 at QUIT.
"""
import base64
import json
import poplib
import ssl
import sys

mode, host, port, user, password = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed

if mode == "ssl":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=20)
else:
    p = poplib.POP3(host, int(port), timeout=20)
out = {"welcome": p.getwelcome().decode()}
if mode in ("stls", "authplain"):
    out["capa_before_tls"] = sorted(p.capa().keys())
    p.stls(context=ctx)
out["capa"] = sorted(p.capa().keys())
if mode == "authplain":
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    out["auth"] = p._shortcmd("AUTH PLAIN " + token).decode()
else:
    p.user(user)
    out["auth"] = p.pass_(password).decode()
count, size = p.stat()
out["stat"] = [count, size]
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["messages"] = []
out["octets"] = []
for i in range(1, count + 1):
    _, lines, octets = p.retr(i)
    out["messages"].append(base64.b64encode(b"\r\n".join(lines) + b"\r\n").decode())
    out["octets"].append(octets)
if count:
    out["top"] = [l.decode() for l in p.top(1, 0)[1]]
    p.dele(1)
out["quit"] = p.quit().decode()
print(json.dumps(out))
