package sieve

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"

	"mailhost/mailheader"
)

func charsetReader(name string, r io.Reader) (io.Reader, error) { return charset.Reader(name, r) }

// rawMessage is the Message of a message held in memory, in one piece or
// in parts.
type rawMessage struct {
	parts [][]byte
	size  int64
	hdr   mailheader.Header

	once sync.Once
	raw  []byte
}

// NewMessage gives scripts a message held in memory.
func NewMessage(raw []byte) Message {
	return &rawMessage{parts: [][]byte{raw}, size: int64(len(raw)), hdr: mailheader.Parse(raw)}
}

// NewMessageParts gives scripts a message held in memory in parts, one
// after the other (a server's added header fields, then the message as
// received): the header section is read across them and the parts are
// joined only if a body test asks for the whole message. The Message may
// be shared by the runs of several recipients, also at once.
func NewMessageParts(parts ...[]byte) Message {
	m := &rawMessage{parts: parts}
	rs := make([]io.Reader, len(parts))
	for i, p := range parts {
		rs[i] = bytes.NewReader(p)
		m.size += int64(len(p))
	}
	m.hdr = mailheader.Read(io.MultiReader(rs...))
	return m
}

func (m *rawMessage) Header(name string) []string {
	var out []string
	fs := m.hdr.FieldsByKey(name)
	for fs.Next() {
		out = append(out, unfold(fs.Value()))
	}
	return out
}

func (m *rawMessage) Size() int64 { return m.size }

func (m *rawMessage) Raw() ([]byte, error) {
	m.once.Do(func() {
		if len(m.parts) == 1 {
			m.raw = m.parts[0]
			return
		}
		m.raw = bytes.Join(m.parts, nil)
	})
	return m.raw, nil
}

// unfold removes the line breaks of a folded field value (RFC 5322 2.2.3).
func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
}

// bodyCache holds the message's body parts once a body test read them.
type bodyCache struct {
	raw   string
	parts []bodyPart
}

type bodyPart struct {
	mediaType string // lower case type/subtype
	text      string // decoded (transfer encoding, charset)
}

// bodyParts reads the body once per run.
func (r *run) bodyParts() (*bodyCache, error) {
	if r.body != nil {
		return r.body, nil
	}
	raw, err := r.in.Message.Raw()
	if err != nil {
		return nil, err
	}
	bc := &bodyCache{}
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		bc.raw = string(raw[i+4:])
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		bc.raw = string(raw[i+2:])
	}
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil {
		r.body = bc
		return bc, nil //nolint:nilerr // an unreadable message has only its raw body
	}
	_ = ent.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil {
			return nil // an unknown charset or encoding: skip the part
		}
		mt, _, _ := e.Header.ContentType()
		if mt == "" {
			mt = "text/plain"
		}
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		b, rerr := io.ReadAll(io.LimitReader(e.Body, 16<<20))
		if rerr != nil {
			return nil
		}
		bc.parts = append(bc.parts, bodyPart{mediaType: strings.ToLower(mt), text: string(b)})
		return nil
	})
	r.body = bc
	return bc, nil
}

func (t testBody) eval(r *run) (bool, error) {
	bc, err := r.bodyParts()
	if err != nil {
		return false, err
	}
	var vals []string
	if t.transform == "raw" {
		vals = []string{bc.raw}
	} else {
		types := []string{"text"}
		if t.transform == "content" {
			types = r.expandAll(t.types)
		}
		for _, p := range bc.parts {
			if contentMatches(p.mediaType, types) {
				vals = append(vals, p.text)
			}
		}
	}
	ok, vars, err := t.m.match(r, vals)
	r.matched(ok, vars)
	return ok, err
}

// contentMatches is RFC 5173 5.2: "" is any type, "text" a main type,
// "text/html" a type and subtype.
func contentMatches(mt string, types []string) bool {
	main, _, _ := strings.Cut(mt, "/")
	for _, t := range types {
		t = strings.ToLower(t)
		if t == "" || t == mt || !strings.Contains(t, "/") && t == main {
			return true
		}
	}
	return false
}

// HeaderScores reads a content filter's verdicts from the header fields
// it adds (SpamAssassin's X-Spam-Status "score=S required=R", or
// X-Spam-Score with X-Spam-Flag; X-Virus-Status "Clean" or "Infected"), the
// source of spamtest and virustest until the content filter reports its
// results directly.
type HeaderScores struct{ Msg Message }

// Spam maps score/required onto [0,1]: 0 at a score of 0 or less, 0.5 at
// the threshold, 1 at twice the threshold.
func (h HeaderScores) Spam() (float64, bool) {
	score, required := 0.0, 5.0
	found := false
	for _, v := range h.Msg.Header("X-Spam-Status") {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			if s, ok := strings.CutPrefix(strings.ToLower(f), "score="); ok {
				if x, err := strconv.ParseFloat(s, 64); err == nil {
					score, found = x, true
				}
			}
			if s, ok := strings.CutPrefix(strings.ToLower(f), "required="); ok {
				if x, err := strconv.ParseFloat(s, 64); err == nil && x > 0 {
					required = x
				}
			}
		}
	}
	if !found {
		for _, v := range h.Msg.Header("X-Spam-Score") {
			if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				score, found = x, true
			}
		}
	}
	if !found {
		for _, v := range h.Msg.Header("X-Spam-Flag") {
			if strings.EqualFold(strings.TrimSpace(v), "yes") {
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	return min(max(score/(2*required), 0), 1), true
}

// Virus reads X-Virus-Status.
func (h HeaderScores) Virus() (int, bool) {
	for _, v := range h.Msg.Header("X-Virus-Status") {
		v = strings.ToLower(strings.TrimSpace(v))
		switch {
		case strings.HasPrefix(v, "clean"):
			return 1, true
		case strings.HasPrefix(v, "infected"):
			return 5, true
		}
	}
	return 0, false
}
