package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os/user"
	"strings"

	"mailhost/maildir"
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
	msg, err := readMessage(sio.in, ignoreDots)
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
	log := newLogger(cfg, sio.err)
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
		Index: &mda.GroupIndex{Store: db.Store}}
	res, err := mta.Inject(ctx, db.Store, agent, mta.Injection{Hostname: cfg.Hostname, Sender: sender, FromName: fullName,
		User: login, Delims: cfg.SMTP.RecipientDelimiter, Recipients: rcpts, Message: msg})
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
	return nil
}

// readMessage reads stdin; without -i a line with a single dot ends the
// message, as in sendmail.
func readMessage(r io.Reader, ignoreDots bool) ([]byte, error) {
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
		if err == io.EOF {
			return b.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// extractRecipients reads To, Cc and Bcc (-t) and removes the Bcc lines.
func extractRecipients(msg []byte) ([]byte, []string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, nil, fmt.Errorf("-t: cannot read the message header: %v", err)
	}
	var out []string
	for _, f := range []string{"To", "Cc", "Bcc"} {
		if m.Header.Get(f) == "" {
			continue
		}
		list, err := (&mail.AddressParser{WordDecoder: &mime.WordDecoder{
			CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}}).ParseList(m.Header.Get(f))
		if err != nil {
			return nil, nil, fmt.Errorf("-t: bad %s: header: %v", f, err)
		}
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return removeBcc(msg), out, nil
}

// removeBcc drops Bcc: fields (with their continuation lines) from the
// header section.
func removeBcc(msg []byte) []byte {
	var out bytes.Buffer
	inHeader, skipping := true, false
	for len(msg) > 0 {
		i := bytes.IndexByte(msg, '\n')
		line := msg
		if i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		if inHeader {
			t := bytes.TrimRight(line, "\r\n")
			if len(t) == 0 {
				inHeader = false
			} else if t[0] == ' ' || t[0] == '\t' {
				if skipping {
					continue
				}
			} else {
				skipping = len(t) >= 4 && strings.EqualFold(string(t[:4]), "bcc:")
				if skipping {
					continue
				}
			}
		}
		out.Write(line)
	}
	return out.Bytes()
}
