package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"mailhost/admin"
)

// chart draws a series as an SVG bar chart, on the server: no script, no
// style attribute (the panel's CSP), scaled to the viewport by viewBox so
// it reads on a phone. Each bar carries a <title> with its time and value;
// the figure's label says the total, for screen readers and tests.
func chart(s admin.Series, span string) template.HTML {
	const w, h, top = 720.0, 120.0, 8.0
	max := int64(0)
	for _, p := range s.Points {
		if p.Value > max {
			max = p.Value
		}
	}
	total := fmt.Sprint(s.Total)
	if s.Metric == "storage" {
		total = humanSize(s.Total)
	}
	what := "in all"
	if s.Gauge {
		what = "now"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart" data-metric="%s" data-total="%d">`, template.HTMLEscapeString(s.Metric), s.Total)
	fmt.Fprintf(&b, `<figcaption>%s: <strong>%s</strong> %s</figcaption>`, template.HTMLEscapeString(s.Label), total, what)
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s, %s: %s %s" preserveAspectRatio="none">`,
		w, h, template.HTMLEscapeString(s.Label), span, total, what)
	fmt.Fprintf(&b, `<line x1="0" y1="%.0f" x2="%.0f" y2="%.0f" class="axis" stroke="currentColor" stroke-width="1"/>`, h-0.5, w, h-0.5)
	bw := w / float64(max1(len(s.Points)))
	for i, p := range s.Points {
		if p.Value == 0 {
			continue
		}
		bh := (h - top) * float64(p.Value) / float64(max)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar" fill="currentColor"><title>%s: %d</title></rect>`,
			float64(i)*bw, h-bh, bw*0.85, bh, p.At.UTC().Format("Jan 2 15:04 UTC"), p.Value)
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String()) // every value above is escaped or a number
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// mailLog is the mail log page: recent deliveries searched by queue id,
// message id, sender or recipient.
type mailLogPage struct {
	Q, Event string
	Rows     []admin.MailLogEntry
	Events   []string
}

// mailLog shows the mail log page.
func (h *Handler) mailLog(w http.ResponseWriter, r *http.Request) {
	q, ev := r.URL.Query().Get("q"), r.URL.Query().Get("event")
	rows, err := h.svc.MailLog(r.Context(), current(r).Actor, q, ev)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "maillog.html", &view{Title: "Mail log", Nav: "maillog", D: mailLogPage{Q: q, Event: ev, Rows: rows,
		Events: []string{"accepted", "delivered", "sent", "deferred", "bounced", "rejected", "queued", "held", "discarded", "notified"}}})
}
