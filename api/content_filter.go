package api

import (
	"context"
	"net/http"

	"mailhost/admin"
)

// contentFilterRoutes are a domain's content filter settings: spam and
// virus policy, banned attachments, its own rules (a domain admin: its
// domains').
func (a *API) contentFilterRoutes() []route {
	s := a.svc
	return []route{
		{Method: "GET", Path: "/domains/{domain}/content-filter", Summary: "show a domain's content filter settings: spam and virus policy, banned attachments, rules",
			Status: http.StatusOK, Errors: []int{404, 422}, Response: admin.ContentFilterView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				return s.ContentFilter(ctx, ac, r.param("domain"))
			}},
		{Method: "PATCH", Path: "/domains/{domain}/content-filter", Summary: "change a domain's content filter settings (rules: the whole list, REJECT, DISCARD, HOLD or WARN)",
			Status: http.StatusOK, Errors: []int{400, 404, 413, 422}, Body: admin.ContentFilterInput{}, Response: admin.ContentFilterView{},
			h: func(ctx context.Context, ac admin.Actor, r *request) (any, error) {
				var in admin.ContentFilterInput
				if err := r.decode(&in); err != nil {
					return nil, err
				}
				return s.UpdateContentFilter(ctx, ac, r.param("domain"), in)
			}},
	}
}
