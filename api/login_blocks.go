package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// loginBlockRoutes are the login throttle's blocks (super-admin only; 403
// for everyone else): list them, lift one.
func (a *API) loginBlockRoutes() []route {
	s := a.svc
	return []route{
		{Method: "GET", Path: "/auth/blocks", Summary: "list the client addresses and accounts blocked after too many failed logins, ending soonest first (super-admin; mailhost auth blocks)",
			Status: http.StatusOK, Errors: []int{403},
			Response: []admin.LoginBlockView{}, h: func(ctx context.Context, ac admin.Actor, _ *request) (any, error) {
				return s.LoginBlocks(ctx, ac)
			}},
		{Method: "POST", Path: "/auth/unblock", Summary: "lift the block of a client address (an IPv6 address stands for its /64) or an account and forget its failures (super-admin; mailhost auth unblock)",
			Status: http.StatusOK, Errors: []int{400, 403, 404, 413, 422},
			Body: admin.UnblockInput{}, Response: admin.LoginBlockView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.UnblockInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.Unblock(ctx, ac, in)
			}},
	}
}
