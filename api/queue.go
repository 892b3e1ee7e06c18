package api

import (
	"context"
	"net/http"
	"strconv"

	"mailhost/admin"
)

// queueFlushBody selects what POST /queue/flush makes due: {"id": ID},
// {"domain": "example.com"} or {} for everything.
type queueFlushBody struct {
	ID     *string `json:"id"`
	Domain *string `json:"domain"`
}

// queueID reads the {id} parameter: a message's queue id (the id of its
// 250 reply and mail log lines) or, as before migration 0019, one of its
// row numbers.
func queueID(r *request) (string, error) {
	id := r.param("id")
	if id == "" {
		return "", &admin.Error{Kind: admin.NotFound, Detail: "no such queued message"}
	}
	return id, nil
}

// queueRoutes are the mail queue's routes (super-admin only; 403 for
// everyone else).
func (a *API) queueRoutes() []route {
	s := a.svc
	ok := http.StatusOK
	return []route{
		{Method: "GET", Path: "/queue", Summary: "list queued messages, oldest first, with recipients, states and last errors (super-admin; mailq)",
			Status: ok, Errors: []int{403, 422},
			Query: []queryParam{{"domain", "string", "only messages with a recipient in this domain"},
				{"state", "string", "queued, deferred or hold"}, {"limit", "integer", "at most this many messages"}},
			Response: admin.List[admin.QueueEntry]{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				limit := 0
				if l := r.query("limit"); l != "" {
					n, err := strconv.Atoi(l)
					if err != nil || n < 1 {
						return nil, &admin.ValidationError{Fields: []admin.FieldError{{Field: "limit", Detail: "must be a positive integer"}}}
					}
					limit = n
				}
				return s.Queue(ctx, ac, admin.QueueParams{Domain: r.query("domain"), State: r.query("state"), Limit: limit})
			}},
		{Method: "GET", Path: "/queue/{id}", Summary: "show a queued message: recipients with state, header; body=true adds the whole message (super-admin; postcat)",
			Status: ok, Errors: []int{403, 404, 422},
			Query:    []queryParam{{"body", "boolean", "include the whole message"}},
			Response: admin.QueueMessageView{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				id, err := queueID(r)
				if err != nil {
					return nil, err
				}
				body, err := r.flag("body")
				if err != nil {
					return nil, err
				}
				return s.QueueMessage(ctx, ac, id, body)
			}},
		{Method: "POST", Path: "/queue/flush", Summary: "retry now: one message ({\"id\": ID}), one recipient domain ({\"domain\": D}) or everything ({}) (super-admin; postqueue -f)",
			Status: ok, Errors: []int{400, 403, 404, 413, 422},
			Body: queueFlushBody{}, Response: admin.QueueCount{}, h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in queueFlushBody
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				var fi admin.QueueFlushInput
				if in.ID != nil {
					fi.ID = *in.ID
				}
				if in.Domain != nil {
					fi.Domain = *in.Domain
				}
				return s.FlushQueue(ctx, ac, fi)
			}},
		{Method: "POST", Path: "/queue/{id}/hold", Summary: "put a message on hold: no delivery attempts until released (super-admin; postsuper -h)",
			Status: http.StatusNoContent, Errors: []int{403, 404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				id, err := queueID(r)
				if err != nil {
					return nil, err
				}
				return noContent{}, s.HoldQueue(ctx, ac, id, true)
			}},
		{Method: "POST", Path: "/queue/{id}/release", Summary: "release a held message and retry it now (super-admin; postsuper -H)",
			Status: http.StatusNoContent, Errors: []int{403, 404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				id, err := queueID(r)
				if err != nil {
					return nil, err
				}
				return noContent{}, s.HoldQueue(ctx, ac, id, false)
			}},
		{Method: "DELETE", Path: "/queue/{id}", Summary: "delete a queued message without notice to its sender (super-admin; postsuper -d)",
			Status: http.StatusNoContent, Errors: []int{403, 404},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				id, err := queueID(r)
				if err != nil {
					return nil, err
				}
				return noContent{}, s.DeleteQueued(ctx, ac, id)
			}},
	}
}
