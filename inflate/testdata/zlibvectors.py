# Writes raw DEFLATE streams made by zlib, as a client of COMPRESS=DEFLATE
# would: one segment per chunk, each ended by a flush. Read by
# TestZlibVectors and TestInteractive (inflate_test.go).
import base64, json, random, zlib

rng = random.Random(4978)
chunks = [b"a1 CAPABILITY\r\n", b"a2 LOGIN user@example.org secret\r\n",
          b"a3 SELECT INBOX\r\n", b"a4 UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)\r\n",
          b"a5 APPEND INBOX (\\Seen) {2000+}\r\n" +
          b"".join(b"Line %d of a message body, mostly text.\r\n" % i for i in range(48)) + b"\r\n",
          bytes(rng.randrange(256) for _ in range(3000)) + b"\r\n",
          b"a6 NOOP\r\n", b"a7 IDLE\r\n", b"DONE\r\n", b"a8 LOGOUT\r\n"]
cases = []
for flush in ("Z_PARTIAL_FLUSH", "Z_SYNC_FLUSH"):
    for level, strategy in ((1, "Z_DEFAULT_STRATEGY"), (6, "Z_DEFAULT_STRATEGY"),
                            (9, "Z_DEFAULT_STRATEGY"), (6, "Z_FIXED"),
                            (6, "Z_HUFFMAN_ONLY"), (0, "Z_DEFAULT_STRATEGY")):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, getattr(zlib, strategy))
        segs = [c.compress(ch) + c.flush(getattr(zlib, flush)) for ch in chunks]
        cases.append({"name": "%s/level%d/%s" % (flush, level, strategy),
                      "segments": [base64.b64encode(s).decode() for s in segs],
                      "final": base64.b64encode(c.flush(zlib.Z_FINISH)).decode()})
print(json.dumps({"chunks": [base64.b64encode(ch).decode() for ch in chunks], "cases": cases}))
