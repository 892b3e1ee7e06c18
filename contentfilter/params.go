package contentfilter

import (
	"io"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message/charset"

	"mailhost/mailheader"
)

// wordDecoder decodes RFC 2047 encoded words in any charset go-message
// knows (the table imapd and mailheader use too).
var wordDecoder = mime.WordDecoder{CharsetReader: charset.Reader}

// params reads the parameters after a media type or disposition type
// leniently, as a mail reader does, since a name hidden from the filter
// by a syntax error must not reach the user's screen: names in lower
// case, quoted strings unquoted, RFC 2231 continuations (name*0,
// name*1*) joined in order and their percent-encoding and charset undone
// (section 4), RFC 2047 encoded words in values decoded (which RFC 2047
// 5 forbids there, and every mail client writes all the same).
func params(s string) map[string]string {
	type segment struct {
		n       int
		encoded bool
		value   string
	}
	segs := map[string][]segment{}
	for _, kv := range splitParams(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = unquote(strings.TrimSpace(v))
		seg := segment{value: v}
		if strings.HasSuffix(k, "*") {
			seg.encoded, k = true, strings.TrimSuffix(k, "*")
		}
		if base, num, ok := strings.Cut(k, "*"); ok {
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n > 1000 {
				continue
			}
			k, seg.n = base, n
		}
		segs[k] = append(segs[k], seg)
	}
	out := make(map[string]string, len(segs))
	for k, ss := range segs {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].n < ss[j].n })
		var b strings.Builder
		cs := ""
		for i, sg := range ss {
			v := sg.value
			if sg.encoded {
				if i == 0 { // charset'language'text
					if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
						cs, v = parts[0], parts[2]
					}
				}
				v = percentDecode(v)
			}
			b.WriteString(v)
		}
		out[k] = decodeWords(toUTF8(cs, b.String()))
	}
	return out
}

// splitParams splits at the semicolons outside quoted strings.
func splitParams(s string) []string {
	var out []string
	quoted, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && quoted:
			esc = true
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' {
		return v
	}
	v = strings.TrimSuffix(v[1:], "\"")
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// percentDecode undoes RFC 2231's %XX; a malformed escape stays as it is.
func percentDecode(v string) string {
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// toUTF8 converts text in charset cs to UTF-8; unknown charsets and
// conversion failures keep the bytes (the extension is ASCII anyway).
func toUTF8(cs, text string) string {
	cs = strings.ToLower(cs)
	if cs == "" || cs == "utf-8" || cs == "us-ascii" {
		return text
	}
	r, err := charset.Reader(cs, strings.NewReader(text))
	if err != nil {
		return text
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return text
	}
	return string(b)
}

func decodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// filenames returns the names a part carries, decoded, each once: the
// Content-Disposition filename, then the Content-Type name (the older
// form many clients still write, and some readers prefer).
func filenames(h *mailheader.Header, ctParams map[string]string) []string {
	var out []string
	add := func(n string) {
		n = strings.TrimSpace(n)
		for _, o := range out {
			if o == n {
				return
			}
		}
		if n != "" {
			out = append(out, n)
		}
	}
	if d := h.Get("Content-Disposition"); d != "" {
		_, rest, _ := strings.Cut(d, ";")
		add(params(rest)["filename"])
	}
	add(ctParams["name"])
	return out
}
