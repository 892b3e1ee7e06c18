package contentfilter

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/d--j/go-milter"
)

// Milter is one milter the stage consults: rspamd's proxy worker,
// clamav-milter, opendkim, ...
type Milter struct {
	Name    string // for logs and the listener's filter list
	Network string // tcp or unix
	Address string
	// Timeout bounds each step: connecting, and every exchange of the
	// protocol. 0: DefaultMilterTimeout.
	Timeout time.Duration
	// Accept, when set, lets mail through unfiltered by this milter when
	// it cannot be reached or fails; else the message is refused for now
	// (451 4.7.1), as Postfix's milter_default_action = tempfail.
	Accept bool
}

// DefaultMilterTimeout is a milter's step timeout when none is set.
const DefaultMilterTimeout = 30 * time.Second

// The milter macros mailhost sends, at the stages Postfix sends them: the
// ones rspamd, clamav-milter, opendkim and opendmarc read.
var milterMacros = [][]milter.MacroName{
	milter.StageConnect: {milter.MacroMTAFQDN, milter.MacroDaemonName, milter.MacroMTAVersion, milter.MacroIfName,
		milter.MacroIfAddr, milter.MacroClientAddr, milter.MacroClientName, milter.MacroClientPTR},
	milter.StageHelo: {milter.MacroTlsVersion, milter.MacroCipher, milter.MacroCipherBits},
	milter.StageMail: {milter.MacroQueueId, milter.MacroAuthType, milter.MacroAuthAuthen, milter.MacroMailMailer,
		milter.MacroMailHost, milter.MacroMailAddr},
	milter.StageRcpt: {milter.MacroRcptMailer, milter.MacroRcptHost, milter.MacroRcptAddr},
	milter.StageData: {milter.MacroQueueId},
	milter.StageEOM:  {milter.MacroQueueId},
	milter.StageEOH:  {milter.MacroQueueId},
}

// milterResult is what one milter said about a message.
type milterResult struct {
	verb       Verb   // "" (accept), Reject, Tempfail, Discard, Hold (quarantine)
	reply      Reply  // Reject, Tempfail
	reason     string // quarantine reason
	added      []string
	addRcpt    []string
	delRcpt    []string
	from       string // new envelope sender, when changeFrom
	changeFrom bool
	changed    bool // the header or the body changed
}

// Tempfail is a milter's (or an unreachable milter's) temporary refusal.
const Tempfail Verb = "TEMPFAIL"

func (m *Milter) client() *milter.Client {
	t := m.Timeout
	if t <= 0 {
		t = DefaultMilterTimeout
	}
	opts := []milter.Option{
		milter.WithDialer(&net.Dialer{Timeout: t}),
		milter.WithReadTimeout(t), milter.WithWriteTimeout(t),
		milter.WithActions(milter.OptAddHeader | milter.OptChangeBody | milter.OptAddRcpt | milter.OptRemoveRcpt |
			milter.OptChangeHeader | milter.OptQuarantine | milter.OptChangeFrom | milter.OptAddRcptWithArgs),
		milter.WithoutDefaultMacros(),
	}
	for stage, names := range milterMacros {
		if len(names) > 0 {
			opts = append(opts, milter.WithMacroRequest(milter.MacroStage(stage), names))
		}
	}
	return milter.NewClient(m.Network, m.Address, opts...)
}

// run passes the message (header fields h, body) through the milter,
// applying its header and body changes to h and body.
func (m *Milter) run(env *Envelope, h *header, body *[]byte) (milterResult, error) {
	macros := milter.NewMacroBag()
	env.setMacros(macros)
	s, err := m.client().Session(macros)
	if err != nil {
		return milterResult{}, err
	}
	defer s.Close()
	var res milterResult
	steps := []func() (*milter.Action, error){
		func() (*milter.Action, error) {
			fam, port, addr := milter.FamilyInet, uint16(0), env.ClientIP.String()
			if env.ClientIP.Is6() && !env.ClientIP.Is4In6() {
				fam = milter.FamilyInet6
			}
			if !env.ClientIP.IsValid() {
				fam, addr = milter.FamilyUnknown, ""
			}
			return s.Conn(env.clientName(), fam, port, addr)
		},
		func() (*milter.Action, error) { return s.Helo(env.Helo) },
		func() (*milter.Action, error) { return s.Mail("<"+env.From+">", "") },
	}
	for _, r := range env.Rcpts {
		steps = append(steps, func() (*milter.Action, error) {
			_, domain := splitAddr(r.Addr)
			macros.Set(milter.MacroRcptAddr, r.Addr)
			macros.Set(milter.MacroRcptHost, domain)
			return s.Rcpt("<"+r.Addr+">", "")
		})
	}
	steps = append(steps, s.DataStart)
	for i := range h.fields {
		f := h.fields[i]
		steps = append(steps, func() (*milter.Action, error) {
			name, value := splitField(f.raw)
			return s.HeaderField(name, value, nil)
		})
	}
	steps = append(steps, s.HeaderEnd)
	for _, step := range steps {
		act, err := step()
		if err != nil {
			return milterResult{}, err
		}
		if done := res.action(act); done {
			return res, nil
		}
	}
	mods, act, err := s.BodyReadFrom(bytes.NewReader(*body))
	if err != nil {
		return milterResult{}, err
	}
	// Changes come with the final answer (accept or continue); a
	// refusal discards them.
	if res.action(act); res.verb == Reject || res.verb == Tempfail || res.verb == Discard {
		return res, nil
	}
	res.modify(mods, h, body)
	return res, nil
}

// action records a milter's answer to one step; true when it decided the
// message (accept ends the milter's part too).
func (res *milterResult) action(act *milter.Action) bool {
	switch act.Type {
	case milter.ActionAccept:
		return true
	case milter.ActionDiscard:
		res.verb = Discard
		return true
	case milter.ActionReject:
		res.verb, res.reply = Reject, Reply{550, [3]int{5, 7, 1}, "Message content rejected"}
		return true
	case milter.ActionTempFail:
		res.verb, res.reply = Tempfail, Reply{451, [3]int{4, 7, 1}, "Message content rejected for now, try again later"}
		return true
	case milter.ActionRejectWithCode:
		res.verb, res.reply = Reject, parseReply(act.SMTPCode, act.SMTPReply)
		if res.reply.Code/100 == 4 {
			res.verb = Tempfail
		}
		return true
	}
	return false
}

// parseReply reads a milter's "550 5.7.1 text" reply (multi-line replies
// joined); the enhanced code is made up when missing.
func parseReply(code uint16, reply string) Reply {
	rep := Reply{Code: int(code)}
	if rep.Code < 400 || rep.Code > 599 {
		rep.Code = 550
	}
	var texts []string
	for _, line := range strings.Split(strings.ReplaceAll(reply, "\r\n", "\n"), "\n") {
		if len(line) >= 4 && line[:3] == strconv.Itoa(rep.Code) && (line[3] == ' ' || line[3] == '-') {
			line = line[4:]
		}
		if line != "" {
			texts = append(texts, line)
		}
	}
	text := strings.Join(texts, " ")
	rep.Enhanced = [3]int{rep.Code / 100, 7, 1}
	if first, rest, _ := strings.Cut(text, " "); strings.Count(first, ".") == 2 {
		var a, b, c int
		if n, _ := fmt.Sscanf(first, "%d.%d.%d", &a, &b, &c); n == 3 && a == rep.Code/100 {
			rep.Enhanced, text = [3]int{a, b, c}, rest
		}
	}
	if text == "" {
		text = "Message content rejected"
	}
	rep.Text = text
	return rep
}

// modify applies a milter's changes at the end of the message.
func (res *milterResult) modify(mods []milter.ModifyAction, h *header, body *[]byte) {
	var newBody []byte
	replaced, hdrChanged := false, false
	for _, m := range mods {
		switch m.Type {
		case milter.ActionAddRcpt:
			res.addRcpt = append(res.addRcpt, milter.RemoveAngle(m.Rcpt))
		case milter.ActionDelRcpt:
			res.delRcpt = append(res.delRcpt, milter.RemoveAngle(m.Rcpt))
		case milter.ActionChangeFrom:
			res.from, res.changeFrom = milter.RemoveAngle(m.From), true
		case milter.ActionQuarantine:
			res.verb, res.reason = Hold, m.Reason
		case milter.ActionReplaceBody:
			newBody, replaced = append(newBody, m.Body...), true
		case milter.ActionAddHeader:
			h.fields = append(h.fields, newField(m.HeaderName, m.HeaderValue))
			res.added = append(res.added, m.HeaderName+": "+m.HeaderValue)
		case milter.ActionInsertHeader:
			i := min(int(m.HeaderIndex), len(h.fields))
			h.fields = append(h.fields[:i], append([]field{newField(m.HeaderName, m.HeaderValue)}, h.fields[i:]...)...)
			res.added = append(res.added, m.HeaderName+": "+m.HeaderValue)
		case milter.ActionChangeHeader:
			h.change(m.HeaderName, int(m.HeaderIndex), m.HeaderValue)
			hdrChanged = true
			if m.HeaderValue != "" {
				res.added = append(res.added, m.HeaderName+": "+m.HeaderValue)
			}
		}
	}
	if replaced {
		*body = crlf(newBody)
	}
	res.changed = replaced || len(res.added) > 0 || hdrChanged
}

// change replaces the index-th (1-based) field called name, or deletes it
// when value is empty (the milter protocol's SMFIR_CHGHEADER); a change
// of a field there are fewer of adds it (as Sendmail's smfi_chgheader:
// rspamd sets X-Spam this way).
func (h *header) change(name string, index int, value string) {
	n := 0
	for i, f := range h.fields {
		fname, _ := splitField(f.raw)
		if !strings.EqualFold(fname, name) {
			continue
		}
		if n++; n != index {
			continue
		}
		if value == "" {
			h.fields = append(h.fields[:i], h.fields[i+1:]...)
		} else {
			h.fields[i] = newField(fname, value)
		}
		return
	}
	if value != "" {
		h.fields = append(h.fields, newField(name, value))
	}
}

// newField is a field as a milter gives it: the value may be folded with
// bare line feeds.
func newField(name, value string) field {
	raw := crlf([]byte(name + ": " + strings.TrimLeft(value, " ") + "\n"))
	return field{raw: raw, line: unfold(raw)}
}

// crlf makes every line end CRLF.
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// splitField returns a raw field's name and its value as milters get it
// from Postfix and Sendmail: folding kept with bare line feeds, the line
// end and the space after the colon dropped.
func splitField(raw []byte) (string, string) {
	s := strings.ReplaceAll(strings.TrimRight(string(raw), "\r\n"), "\r\n", "\n")
	name, value, _ := strings.Cut(s, ":")
	return strings.TrimSpace(name), strings.TrimPrefix(value, " ")
}

func splitAddr(addr string) (string, string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

// setMacros fills the macros of the whole transaction at once: the
// stage runs after DATA, when every value is known.
func (env *Envelope) setMacros(m *milter.MacroBag) {
	m.Set(milter.MacroMTAFQDN, env.Hostname)
	m.Set(milter.MacroMTAVersion, "mailhost")
	m.Set(milter.MacroDaemonName, env.Listener)
	m.Set(milter.MacroQueueId, env.QueueID)
	if env.ClientIP.IsValid() {
		m.Set(milter.MacroClientAddr, env.ClientIP.String())
	}
	m.Set(milter.MacroClientName, env.clientName())
	m.Set(milter.MacroClientPTR, env.clientName())
	if env.TLSVersion != "" {
		m.Set(milter.MacroTlsVersion, env.TLSVersion)
		m.Set(milter.MacroCipher, env.TLSCipher)
	}
	if env.AuthUser != "" {
		m.Set(milter.MacroAuthType, "PLAIN")
		m.Set(milter.MacroAuthAuthen, env.AuthUser)
	}
	_, host := splitAddr(env.From)
	m.Set(milter.MacroMailMailer, "esmtp")
	m.Set(milter.MacroMailHost, host)
	m.Set(milter.MacroMailAddr, env.From)
	m.Set(milter.MacroRcptMailer, "esmtp")
}

// clientName is the client's name as milters expect it: "unknown" in
// brackets style when there is no verified name (as Postfix sends).
func (env *Envelope) clientName() string {
	if env.ClientName != "" {
		return env.ClientName
	}
	if env.ClientIP.IsValid() {
		return "[" + env.ClientIP.String() + "]"
	}
	return "localhost"
}
