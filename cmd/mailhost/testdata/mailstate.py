#!/usr/bin/env python3
"""What an IMAP and POP3 client caches of a mailbox, as JSON: each folder's
UIDVALIDITY and its messages' UIDs with their flags and keywords (without
\\Recent, which is per session), the subscribed folders, and the POP3
UIDLs. Names are printed with '/' between levels, whatever the server's
separator. Used to compare a Dovecot mailbox with the same one imported
into mailhost.

usage: mailstate.py HOST IMAP_PORT POP3_PORT USER PASSWORD
"""
import imaplib
import json
import poplib
import re
import sys

host, imap_port, pop_port, user, password = sys.argv[1:6]

LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<sep>NIL|"[^"]*") (?P<name>.+)$')


def unquote(s):
    s = s.decode()
    if s.startswith('"'):
        s = s[1:-1].replace('\\"', '"').replace('\\\\', '\\')
    return s


def names(data):
    out = []
    for line in data:
        if line is None:
            continue
        m = LIST_RE.match(line)
        sep = unquote(m.group('sep')) if m.group('sep') != b'NIL' else '/'
        out.append((unquote(m.group('name')), sep, m.group('attrs').decode()))
    return out


state = {'folders': {}, 'subscribed': [], 'uidl': []}
M = imaplib.IMAP4(host, int(imap_port))
M.login(user, password)
typ, data = M.list()
for name, sep, attrs in names(data):
    if '\\Noselect' in attrs or '\\NonExistent' in attrs:
        continue
    typ, _ = M.select('"%s"' % name, readonly=True)
    assert typ == 'OK', name
    uidvalidity = int(M.response('UIDVALIDITY')[1][0])
    uidnext = int(M.response('UIDNEXT')[1][0])
    msgs = {}
    typ, data = M.uid('FETCH', '1:*', '(FLAGS)')
    for item in data:
        if item is None:
            continue
        m = re.search(rb'UID (\d+)', item)
        f = re.search(rb'FLAGS \(([^)]*)\)', item)
        flags = sorted(x for x in f.group(1).decode().split() if x != '\\Recent')
        msgs[m.group(1).decode()] = flags
    state['folders'][name.replace(sep, '/')] = {'uidvalidity': uidvalidity, 'uidnext': uidnext, 'messages': msgs}
typ, data = M.lsub()
state['subscribed'] = sorted(n.replace(sep, '/') for n, sep, _ in names(data))
M.logout()

P = poplib.POP3(host, int(pop_port))
P.user(user)
P.pass_(password)
state['uidl'] = [x.decode() for x in P.uidl()[1]]
P.quit()
print(json.dumps(state, sort_keys=True, indent=1))
