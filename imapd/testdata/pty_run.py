"""Runs a full-screen program under a pseudo-terminal until it exits.

    python3 pty_run.py SECONDS PROGRAM [ARGS...]

The program sees an 80x24 terminal (TERM=vt100) and no keyboard: what it
does comes from its arguments (mutt's -e 'push ...'). Exits with the
program's status; when the program outlives SECONDS, it is killed, the
screen output so far goes to stderr and the status is 124.
"""

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

limit, argv = float(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "vt100"
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(argv[0], argv)
screen = b""
deadline = time.monotonic() + limit
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.stderr.write("timed out; the screen so far:\n" + screen.decode("utf-8", "replace"))
        sys.exit(124)
    r, _, _ = select.select([fd], [], [], left)
    if not r:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the program closed the terminal
        data = b""
    if not data:
        break
    screen += data
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.stderr.write("exit status %d; the screen:\n%s" % (code, screen.decode("utf-8", "replace")))
sys.exit(code)
