package main

import (
	"fmt"
	"log/slog"

	"mailhost/config"
	"mailhost/contentfilter"
	"mailhost/store"
)

// newFilterStage makes a listener's content filter stage from the
// filter.* keys: the rule files (read now; an error names the key and the
// line), the milters the listener's list names. nil when the list is
// empty.
func newFilterStage(cfg *config.Config, st *store.Store, log *slog.Logger, names []string, submission bool) (*contentfilter.Stage, error) {
	if len(names) == 0 {
		return nil, nil
	}
	c := contentfilter.Config{Hostname: cfg.Hostname, Submission: submission,
		Limits: contentfilter.Limits{MaxDepth: cfg.Filter.MaxMIMEDepth, MaxParts: cfg.Filter.MaxMIMEParts}}
	for _, t := range []struct {
		key, path string
		kind      contentfilter.Kind
	}{
		{"filter.header_checks", cfg.Filter.HeaderChecks, contentfilter.KindHeader},
		{"filter.mime_header_checks", cfg.Filter.MIMEHeaderChecks, contentfilter.KindMIMEHeader},
		{"filter.body_checks", cfg.Filter.BodyChecks, contentfilter.KindBody},
	} {
		rules, err := contentfilter.LoadRules(t.kind, t.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.key, err)
		}
		c.Rules = append(c.Rules, rules...)
	}
	specs, err := cfg.Filter.MilterSpecs()
	if err != nil {
		return nil, fmt.Errorf("filter.milters: %w", err)
	}
	byName := map[string]config.MilterSpec{}
	for _, m := range specs {
		byName[m.Name] = m
	}
	for _, n := range names {
		switch n {
		case "checks":
			c.Checks = true
		case "attachments":
			c.Attachments = true
		default:
			m := byName[n] // validated
			c.Milters = append(c.Milters, &contentfilter.Milter{Name: m.Name, Network: m.Network, Address: m.Address,
				Timeout: m.Timeout, Accept: m.Accept})
		}
	}
	return contentfilter.New(c, st, log.With("stage", "filter")), nil
}
