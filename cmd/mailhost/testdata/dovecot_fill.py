#!/usr/bin/env python3
"""Fills a mailbox over IMAP as its user would: four messages appended to
INBOX (one expunged again, so the UIDs have a gap), flags and keywords
set, folders Work and Work.Sub created and subscribed, a message in Work.
Four messages stay.

usage: dovecot_fill.py HOST IMAP_PORT USER PASSWORD
"""
import imaplib
import sys

host, port, user, password = sys.argv[1:5]
M = imaplib.IMAP4(host, int(port))
M.login(user, password)
for i in range(4):
    M.append('INBOX', None, None, b'From: a@example.net\r\nSubject: message %d\r\n\r\nbody %d\r\n' % (i, i))
M.create('Work')
M.create('Work.Sub')
M.subscribe('Work')
M.subscribe('Work.Sub')
M.append('Work', '(\\Seen $Project)', None, b'Subject: work\r\n\r\nwork\r\n')
M.select('INBOX')
M.store('1', '+FLAGS', '(\\Seen \\Flagged $Label1)')
M.store('2', '+FLAGS', '(\\Answered Important $Label1)')
M.store('3', '+FLAGS', '(\\Deleted)')
M.expunge()
M.store('3', '+FLAGS', '(\\Draft)')
M.logout()
