package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/user"
	"strings"

	"github.com/emersion/go-message/textproto"

	"mailhost/maildir"
	"mailhost/mailheader"
	"mailhost/mda"
	"mailhost/mta"
)

const sendmailUsage = "mailhost sendmail [-t] [-i] [-f SENDER] [-F NAME] [-oi] [-o...] [RECIPIENT...] < message"

// cmdSendmail is Postfix's sendmail(1) for cron jobs and scripts: it reads
// a message on stdin and delivers it to hosted mailboxes at once and
// queues it for the others (origin "sendmail"), through the database, with
// or without serve running. Invoked as "sendmail" (a symlink) it is the
// same; "mailq" is "queue list".
func cmdSendmail(ctx context.Context, args []string, sio stdio) error {
	var globalArgs []string
	var rcpts []string
	var sender, fullName string
	senderSet, extract, ignoreDots := false, false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		arg := func(flagName string) (string, error) { // -fVALUE or -f VALUE
			if len(a) > len(flagName) {
				return a[len(flagName):], nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%w: %s needs a value; %s", errUsage, flagName, sendmailUsage)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case a == "--":
			rcpts = append(rcpts, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"): // mailhost's own: --config, --data-dir, ...
			name, _, hasValue := strings.Cut(a, "=")
			globalArgs = append(globalArgs, a)
			if !hasValue && name != "--help" && i+1 < len(args) {
				i++
				globalArgs = append(globalArgs, args[i])
			}
		case a == "-t":
			extract = true
		case a == "-i", a == "-oi":
			ignoreDots = true
		case strings.HasPrefix(a, "-f"), strings.HasPrefix(a, "-r"):
			if sender, err = arg(a[:2]); err != nil {
				return err
			}
			senderSet = true
		case strings.HasPrefix(a, "-F"):
			if fullName, err = arg("-F"); err != nil {
				return err
			}
		case a == "-bp":
			return cmdQueue(ctx, append([]string{"list"}, globalArgs...), sio)
		case a == "-bm", a == "-v", a == "-m", a == "-U", a == "-n", a == "-Am", a == "-Ac",
			strings.HasPrefix(a, "-o"), strings.HasPrefix(a, "-B"), strings.HasPrefix(a, "-C"):
			// Accepted and ignored, as Postfix ignores most of them
			// (-o options, body type, the user's sendmail.cf).
			if (a == "-B" || a == "-C") && i+1 < len(args) {
				i++
			}
		case a == "-N", a == "-R", a == "-V", a == "-X":
			if i+1 < len(args) {
				i++ // DSN NOTIFY, RET, ENVID, log file: not used
			}
		case strings.HasPrefix(a, "-N"), strings.HasPrefix(a, "-R"), strings.HasPrefix(a, "-V"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return fmt.Errorf("%w: unknown option %s; %s", errUsage, a, sendmailUsage)
		default:
			rcpts = append(rcpts, a)
		}
	}
	fs, g := newFlagSet("sendmail", sio)
	if _, err := parse(fs, g, globalArgs); err != nil {
		return err
	}
	cfg, err := g.load()
	if err != nil {
		return err
	}
	msg, err := readMessage(sio.in, ignoreDots, cfg.SMTP.MessageSizeLimit)
	if err != nil {
		return err
	}
	login := "unknown"
	if u, err := user.Current(); err == nil {
		login = u.Username
	}
	qualify := func(a string) string {
		if a != "" && !strings.Contains(a, "@") {
			return a + "@" + cfg.Hostname // Postfix's myorigin
		}
		return a
	}
	if !senderSet {
		sender = login
	}
	sender = qualify(strings.TrimSuffix(strings.TrimPrefix(sender, "<"), ">"))
	if extract {
		var found []string
		if msg, found, err = extractRecipients(msg); err != nil {
			return err
		}
		rcpts = append(rcpts, found...)
	}
	if len(rcpts) == 0 {
		return fmt.Errorf("%w: no recipients (give them as arguments or use -t); %s", errUsage, sendmailUsage)
	}
	for i := range rcpts {
		rcpts[i] = qualify(strings.TrimSpace(rcpts[i]))
	}
	log := g.commandLogger(cfg, sio.err)
	db, err := openDatabase(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer db.close(ctx)
	names, err := maildir.NewGenerator(cfg.Hostname)
	if err != nil {
		return err
	}
	agent := &mda.Agent{Root: cfg.MaildirRoot, Owner: maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID}, Names: names,
		Index: &mda.GroupIndex{Store: db.Store}, Filter: sieveFilter(cfg, db.Store, log)}
	res, err := mta.Inject(ctx, db.Store, agent, mta.Injection{Hostname: cfg.Hostname, Sender: sender, FromName: fullName,
		User: login, Delims: cfg.SMTP.RecipientDelimiter, Recipients: rcpts, Message: msg, DKIM: newSigner(cfg, db.Store, log)})
	if err != nil {
		return err
	}
	log.Info("accepted", "queue_id", res.ID, "origin", "sendmail", "from", sender, "uid", login, "rcpts", rcpts,
		"size", len(msg), "delivered", res.Delivered, "queued", res.Queued)
	for _, o := range res.Outcomes {
		to := o.Recipient.Target.Address
		switch {
		case o.OverQuota:
			log.Warn("bounced", "queue_id", res.ID, "to", to, "status", "5.2.2", "reason", "mailbox full")
		case o.Err != nil:
			log.Warn("delivered, not indexed yet", "queue_id", res.ID, "to", to, "err", o.Err)
		case o.WantedFolder != "":
			log.Warn("folder gone, delivered to INBOX", "queue_id", res.ID, "to", to, "wanted_folder", o.WantedFolder)
		}
	}
	if res.Bounce != "" {
		log.Info("sender notified", "queue_id", res.ID, "notice_id", res.Bounce, "to", sender, "kind", "failure")
	}
	return nil
}

// exUnavailable is sysexits.h's EX_UNAVAILABLE, the status Postfix's
// sendmail exits with when a message is larger than message_size_limit
// ("message file too big"); scripts and MUAs that call sendmail know it.
const exUnavailable = 69

// errTooBig is a message larger than smtp.message_size_limit.
var errTooBig = errors.New("message file too big")

// readMessage reads stdin, a message of at most limit bytes (counted as
// read, before line ends become CRLF): a larger one is refused with
// errTooBig and the exit status EX_UNAVAILABLE, having read only a few
// bytes past the limit. Without -i a line with a single dot ends the
// message, as in sendmail.
func readMessage(r io.Reader, ignoreDots bool, limit int64) ([]byte, error) {
	// Three bytes more than the limit: enough to see a whole ".\r\n" that
	// follows a message of limit bytes, so a dot line cut short by the
	// limit can only end a message that is too big anyway.
	msg, err := readUntilDot(io.LimitReader(r, min(limit, math.MaxInt64-3)+3), ignoreDots)
	if err != nil {
		return nil, fmt.Errorf("read the message: %w", err)
	}
	if int64(len(msg)) > limit {
		return nil, &exitError{status: exUnavailable,
			err: fmt.Errorf("%w: larger than smtp.message_size_limit (%d bytes)", errTooBig, limit)}
	}
	return msg, nil
}

// readUntilDot reads r to its end, or unless ignoreDots up to a line
// that holds a single dot (not kept).
func readUntilDot(r io.Reader, ignoreDots bool) ([]byte, error) {
	if ignoreDots {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if t := bytes.TrimRight(line, "\r\n"); len(line) > 0 && string(t) == "." {
			return b.Bytes(), nil
		}
		b.Write(line)
		if errors.Is(err, io.EOF) {
			return b.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// extractRecipients reads the addresses of every To, Cc and Bcc field
// (-t) and removes the Bcc fields. A header it cannot read is refused
// rather than guessed at.
func extractRecipients(msg []byte) ([]byte, []string, error) {
	h := mailheader.Parse(msg)
	if h.Err != nil {
		return nil, nil, fmt.Errorf("-t: cannot read the message header: %w", h.Err)
	}
	var out []string
	for _, f := range []string{"To", "Cc", "Bcc"} {
		list, err := h.Addresses(f)
		if err != nil {
			return nil, nil, fmt.Errorf("-t: bad header: %w", err)
		}
		out = append(out, list...)
	}
	if !h.Has("Bcc") {
		return msg, out, nil
	}
	// The other fields keep their bytes (their line ends become CRLF, as
	// the whole message does at injection); the body follows as it was.
	h.Del("Bcc")
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, h.Header); err != nil {
		return nil, nil, fmt.Errorf("-t: %w", err)
	}
	b.Write(msg[h.Size:])
	return b.Bytes(), out, nil
}
