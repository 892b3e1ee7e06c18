"""A small ManageSieve (RFC 5804) client on Python's socket and ssl modules,
for managesieve's tests: STARTTLS, AUTHENTICATE PLAIN answering the server's
challenge, PUTSCRIPT with a literal, SETACTIVE, LISTSCRIPTS, GETSCRIPT."""
import base64
import socket
import ssl
import sys

host, port = sys.argv[1].rsplit(":", 1)
user, password = sys.argv[2], sys.argv[3]


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.f = sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data.encode())

    def response(self):
        lines = []
        while True:
            line = self.f.readline().decode()
            if not line:
                raise SystemExit("connection closed")
            if line.rstrip("\r\n").endswith("}") and "{" in line:
                n = int(line[line.rindex("{") + 1:line.rindex("}")].rstrip("+"))
                line += self.f.read(n).decode()
                lines.append(line)
                continue
            lines.append(line)
            if line.startswith(("OK", "NO", "BYE")):
                return "".join(lines)


sock = socket.create_connection((host, int(port)))
c = Conn(sock)
greeting = c.response()
assert '"STARTTLS"' in greeting, greeting
c.send("STARTTLS\r\n")
assert c.response().startswith("OK")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = Conn(ctx.wrap_socket(sock))
caps = c.response()
assert '"SASL" "PLAIN' in caps, caps
c.send('AUTHENTICATE "PLAIN"\r\n')
challenge = c.f.readline().decode()
assert challenge.startswith('"'), challenge
token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
c.send('"%s"\r\n' % token)
r = c.response()
print("login", r.split()[0])
script = 'require ["vacation"];\r\nvacation :days 1 "away";\r\n'
c.send('PUTSCRIPT "vac" {%d+}\r\n%s\r\n' % (len(script.encode()), script))
assert c.response().startswith("OK")
c.send('SETACTIVE "vac"\r\n')
assert c.response().startswith("OK")
c.send("LISTSCRIPTS\r\n")
print(c.response())
c.send('GETSCRIPT "vac"\r\n')
r = c.response()
assert script in r, r
print("getscript ok")
c.send("LOGOUT\r\n")
assert c.response().startswith("OK")
