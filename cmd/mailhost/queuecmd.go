package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mailhost/admin"
)

const queueUsage = "mailhost queue list [--domain D] [--state queued|deferred|hold] | show ID [--body] | flush [ID | --domain D] | hold ID | release ID | delete ID | delete --all [--deferred]"

// cmdQueue is the queue tools: mailq, postqueue -f/-i/-s, postsuper
// -h/-H/-d, postcat. They work on the database directly; a running serve
// (any node) picks the changes up at its next poll.
func cmdQueue(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("queue", sio, map[string][]string{
		"list": {"domain", "state"}, "show": {"body"}, "flush": {"domain"},
		"hold": nil, "release": nil, "delete": {"all", "deferred"},
	})
	domain := p.fs.String("domain", "", "list: only messages with a recipient in this domain; flush: only its recipients")
	state := p.fs.String("state", "", "list: only messages with a recipient in this state (queued, deferred) or on hold")
	body := p.fs.Bool("body", false, "show: print the whole message (postcat)")
	all := p.fs.Bool("all", false, "delete: every message (postsuper -d ALL)")
	deferred := p.fs.Bool("deferred", false, "delete --all: only messages with a deferred recipient")
	verb, pos, err := p.parse(args, queueUsage)
	if err != nil {
		return err
	}
	var id string
	needID := verb == "show" || verb == "hold" || verb == "release" || verb == "delete" && !*all
	switch {
	case needID && len(pos) != 1, !needID && verb != "flush" && len(pos) > 0, verb == "flush" && len(pos) > 1,
		verb == "flush" && len(pos) == 1 && *domain != "", verb == "delete" && *all && len(pos) > 0,
		*deferred && !*all:
		return fmt.Errorf("%w: %s", errUsage, queueUsage)
	}
	if len(pos) == 1 {
		if id = pos[0]; id == "" {
			return fmt.Errorf("%w: %q is not a queue id (mailhost queue list shows them)", errUsage, pos[0])
		}
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		l, err := p.svc.Queue(ctx, a, admin.QueueParams{Domain: *domain, State: *state})
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(l)
		}
		printMailq(sio.out, l.Items)
		return nil
	case "show":
		v, err := p.svc.QueueMessage(ctx, a, id, *body)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(v)
		}
		if *body {
			_, err := io.WriteString(sio.out, strings.ReplaceAll(v.Body, "\r\n", "\n"))
			return err
		}
		printQueued(sio.out, v.QueueEntry)
		for _, c := range v.Copies {
			fmt.Fprintf(sio.out, "copy (row %d):\n", c.Row)
			printQueued(sio.out, c)
		}
		fmt.Fprintf(sio.out, "header:\n%s", strings.ReplaceAll(v.Header, "\r\n", "\n"))
		return nil
	case "flush":
		n, err := p.svc.FlushQueue(ctx, a, admin.QueueFlushInput{ID: id, Domain: *domain})
		if err != nil {
			return problemText(err)
		}
		return p.record(n, [][2]string{{"recipients due now", strconv.FormatInt(n.Count, 10)}})
	case "hold":
		return p.done(p.svc.HoldQueue(ctx, a, id, true), "message %s is on hold", pos[0])
	case "release":
		return p.done(p.svc.HoldQueue(ctx, a, id, false), "message %s is released and due now", pos[0])
	case "delete":
		if *all {
			n, err := p.svc.DeleteAllQueued(ctx, a, *deferred)
			if err != nil {
				return problemText(err)
			}
			return p.record(n, [][2]string{{"messages deleted", strconv.FormatInt(n.Count, 10)}})
		}
		return p.done(p.svc.DeleteQueued(ctx, a, id), "deleted message %s", pos[0])
	}
	return nil
}

// printQueued prints one queue row of a message for queue show.
func printQueued(w io.Writer, e admin.QueueEntry) {
	fmt.Fprintf(w, "id: %s\nrow: %d\nsize: %d\narrival: %s\nexpires: %s\nsender: <%s>\norigin: %s\nhold: %s\n",
		e.ID, e.Row, e.Size, e.Arrival.Format("2006-01-02 15:04:05 MST"), e.Expires.Format("2006-01-02 15:04:05 MST"),
		e.Sender, e.Origin, yesNo(e.Hold))
	if e.AuthUser != "" {
		fmt.Fprintf(w, "auth user: %s\n", e.AuthUser)
	}
	fmt.Fprintln(w, "recipients:")
	for _, r := range e.Recipients {
		fmt.Fprintf(w, "  %s  %s  attempts %d", r.Address, r.State, r.Attempts)
		if r.State == "queued" || r.State == "deferred" {
			fmt.Fprintf(w, "  next %s", r.NextAttempt.Format("2006-01-02 15:04:05 MST"))
		}
		if r.LastError != "" {
			fmt.Fprintf(w, "  (%s)", r.LastError)
		}
		fmt.Fprintln(w)
	}
}

// printMailq prints the queue as Postfix's mailq does: id (with "!" when
// on hold), size, arrival, sender, then each waiting recipient under its
// last error. The copies of a message are listed each under its id.
func printMailq(w io.Writer, items []admin.QueueEntry) {
	if len(items) == 0 {
		fmt.Fprintln(w, "Mail queue is empty")
		return
	}
	fmt.Fprintf(w, "%-21s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")
	var total int64
	for _, e := range items {
		id := e.ID
		if e.Hold {
			id += "!"
		}
		sender := e.Sender
		if sender == "" {
			sender = "MAILER-DAEMON"
		}
		fmt.Fprintf(w, "%-21s %8d %-20s %s\n", id, e.Size, e.Arrival.Local().Format("Mon Jan _2 15:04:05"), sender)
		for _, r := range e.Recipients {
			if r.State != "queued" && r.State != "deferred" {
				continue
			}
			if r.LastError != "" {
				fmt.Fprintf(w, "%52s(%s)\n", "", r.LastError)
			}
			fmt.Fprintf(w, "%52s%s\n", "", r.Address)
		}
		fmt.Fprintln(w)
		total += e.Size
	}
	msgs := map[string]bool{} // a request is a message, whatever its copies
	for _, e := range items {
		msgs[e.ID] = true
	}
	fmt.Fprintf(w, "-- %d Kbytes in %d Request%s.\n", (total+1023)/1024, len(msgs), map[bool]string{true: "s"}[len(msgs) != 1])
}
