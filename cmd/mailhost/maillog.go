package main

import (
	"log/slog"
	"time"

	"mailhost/config"
	"mailhost/maillog"
	"mailhost/store"
)

// newRecorder is the mail log recorder of serve: rows for maillog.keep_days,
// hourly counts twice as long (a week at least), minute counts two days.
func newRecorder(cfg *config.Config, st *store.Store, log *slog.Logger) *maillog.Recorder {
	day := 24 * time.Hour
	keep := time.Duration(cfg.MailLog.KeepDays) * day
	return maillog.New(st, maillog.Retention{Minutes: 2 * day, Hours: max(2*keep, 7*day), Log: keep}, log)
}
