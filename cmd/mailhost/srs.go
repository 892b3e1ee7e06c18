package main

import (
	"context"
	"fmt"
	"time"

	"mailhost/config"
	"mailhost/mta"
	"mailhost/srs"
	"mailhost/store"
)

// newSRS makes the Sender Rewriting Scheme of the srs.* keys with the
// installation's secrets from the database (the first start generates
// one); nil when srs.enabled is off.
func newSRS(cfg *config.Config, st *store.Store) (*mta.SRS, error) {
	if !cfg.SRS.Enabled {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secrets, err := st.SRSSecrets(ctx)
	if err != nil {
		return nil, err
	}
	rw, err := srs.New(secrets, cfg.SRSDomain(), time.Duration(cfg.SRS.MaxAgeDays)*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("srs: %w", err)
	}
	return &mta.SRS{Rewriter: rw, Domains: st}, nil
}
