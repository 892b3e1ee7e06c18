package pop3d

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// readBufSize is the read buffer of a message file: lines longer than it
// are streamed in pieces.
const readBufSize = 32 << 10

// writeMessage streams a message file from r to w as a POP3 multi-line
// response body (RFC 1939 section 3): every line ending becomes CRLF (a bare
// LF gains its CR, as Maildir files often end lines with LF alone), a line
// starting with "." gets another "." (byte-stuffing), a last line without
// an ending gets one, and ".CRLF" closes the response. With bodyLines >= 0
// only the header, the blank line and that many body lines are sent (TOP).
// It returns the number of octets read from r. The message is never held
// in memory: at most one buffer of it (br, reset to read r).
func writeMessage(w *bufio.Writer, br *bufio.Reader, r io.Reader, bodyLines int) (int64, error) {
	br.Reset(r)
	defer br.Reset(nil)

	var n int64
	lineStart := true  // the next byte starts a line
	pendingCR := false // a piece ended in CR; the next may start with its LF
	inHeader := bodyLines >= 0
	lineEmpty := true // the current line has had no content yet
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(chunk) > 0 {
			if pendingCR {
				pendingCR = false
				if chunk[0] != '\n' {
					w.WriteByte('\r')
					lineEmpty = false
				}
			}
			if lineStart && chunk[0] == '.' {
				w.WriteByte('.')
			}
			if chunk[len(chunk)-1] == '\n' {
				body := chunk[:len(chunk)-1]
				body = bytes.TrimSuffix(body, []byte{'\r'})
				w.Write(body)
				w.WriteString("\r\n")
				empty := lineEmpty && len(body) == 0
				lineStart, lineEmpty = true, true
				if bodyLines >= 0 {
					if inHeader {
						inHeader = !empty
					} else {
						bodyLines--
						if bodyLines < 0 {
							break
						}
					}
					if !inHeader && bodyLines == 0 {
						break
					}
				}
			} else {
				if chunk[len(chunk)-1] == '\r' {
					chunk = chunk[:len(chunk)-1]
					pendingCR = true
				}
				w.Write(chunk)
				lineStart = false
				if len(chunk) > 0 {
					lineEmpty = false
				}
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if pendingCR {
		w.WriteByte('\r')
		lineStart = false
	}
	if !lineStart {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
	return n, w.Flush()
}

// crlfSize returns the size of r's contents with every bare LF counted as
// CRLF: the size writeMessage sends before stuffing, as RFC 1939 LIST
// reports and as maildir's W= field records.
func crlfSize(br *bufio.Reader, r io.Reader) (int64, error) {
	br.Reset(r)
	defer br.Reset(nil)
	var n int64
	prevCR := false
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if k := len(chunk); k > 0 && chunk[k-1] == '\n' {
			if !(k >= 2 && chunk[k-2] == '\r' || k == 1 && prevCR) {
				n++ // the CR added to a bare LF
			}
		}
		if len(chunk) > 0 {
			prevCR = chunk[len(chunk)-1] == '\r'
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
