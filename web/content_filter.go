package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailhost/admin"
)

// A domain's content filter settings page (spam and virus policy, banned
// attachments, the domain's own rules), over admin.ContentFilter.

// contentFilterPage is the form's data.
type contentFilterPage struct {
	Domain string
	Spam   []choice
	Virus  []choice
}

var (
	spamChoices = []choice{
		{"junk", "Junk folder", "spam goes to the recipient's Junk folder (flagged by the scanner, or from the junk score)"},
		{"reject", "Refuse", "as Junk folder, and refused at the end of DATA from the reject score"},
		{"off", "Off", "spam is delivered like any other mail"},
	}
	virusChoices = []choice{
		{"reject", "Refuse", "refused at the end of DATA (554 5.7.1, naming the virus)"},
		{"hold", "Hold", "kept in the queue on hold for a super-admin to release or delete"},
		{"off", "Deliver", "delivered (a scanner that refuses by itself still does)"},
	}
)

// SpamSet and VirusSet are the policies' fieldsets.
func (p contentFilterPage) SpamSet(f *form) choiceSet {
	return choiceSet{F: f, Name: "spam_policy", Legend: "Spam", Choices: p.Spam}
}

// VirusSet is the virus policy's fieldset.
func (p contentFilterPage) VirusSet(f *form) choiceSet {
	return choiceSet{F: f, Name: "virus_policy", Legend: "Viruses", Choices: p.Virus}
}

func (h *Handler) contentFilterShow(w http.ResponseWriter, r *http.Request) {
	cf, err := h.svc.ContentFilter(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("spam_policy", cf.SpamPolicy)
	f.Values.Set("junk_score", strconv.FormatFloat(cf.JunkScore, 'g', -1, 64))
	f.Values.Set("reject_score", strconv.FormatFloat(cf.RejectScore, 'g', -1, 64))
	f.Values.Set("virus_policy", cf.VirusPolicy)
	if cf.DefaultBanned {
		f.Values.Set("default_banned", "on")
	}
	if cf.ScanZip {
		f.Values.Set("scan_zip", "on")
	}
	f.Values.Set("banned_extensions", strings.Join(cf.BannedExtensions, " "))
	f.Values.Set("banned_types", strings.Join(cf.BannedTypes, "\n"))
	var rules []string
	for _, rl := range cf.Rules {
		rules = append(rules, rl.Kind+" "+rl.Rule)
	}
	f.Values.Set("rules", strings.Join(rules, "\n"))
	h.renderContentFilter(w, r, http.StatusOK, cf.Domain, f)
}

func (h *Handler) contentFilterUpdate(w http.ResponseWriter, r *http.Request) {
	name := param(r, "domain")
	f := newForm(r)
	in := admin.ContentFilterInput{SpamPolicy: f.str("spam_policy"), VirusPolicy: f.str("virus_policy"),
		DefaultBanned: f.checkbox("default_banned"), ScanZip: f.checkbox("scan_zip")}
	in.JunkScore = f.score("junk_score")
	in.RejectScore = f.score("reject_score")
	if !*in.DefaultBanned {
		ext := strings.Fields(strings.ReplaceAll(f.Values.Get("banned_extensions"), ",", " "))
		in.BannedExtensions = &ext
		in.BannedTypes = f.lines("banned_types")
	}
	var rules []admin.FilterRuleInput
	for _, l := range *f.lines("rules") {
		kind, rule, _ := strings.Cut(l, " ")
		rules = append(rules, admin.FilterRuleInput{Kind: kind, Rule: strings.TrimSpace(rule)})
	}
	in.Rules = &rules
	if len(f.Errors) == 0 {
		cf, err := h.svc.UpdateContentFilter(r.Context(), current(r).Actor, name, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, withDone("/domains/"+url.PathEscape(cf.Domain)+"/content-filter", "saved"))
			return
		}
		ruleErrors(f)
	} else {
		f.Error = "Please correct the errors below."
	}
	h.renderContentFilter(w, r, f.Status(), name, f)
}

// score reads a score field, or puts an error next to it.
func (f *form) score(name string) *float64 {
	v, err := strconv.ParseFloat(f.Get(name), 64)
	if err != nil {
		f.Errors[name] = "must be a number such as 6 or 7.5"
		return nil
	}
	return &v
}

// ruleErrors moves the service's errors of rules[i].kind and
// rules[i].rule next to the rules box, by line.
func ruleErrors(f *form) {
	for k, msg := range f.Errors {
		var i int
		var part string
		if n, _ := fmt.Sscanf(k, "rules[%d].%s", &i, &part); n != 2 {
			continue
		}
		delete(f.Errors, k)
		line := fmt.Sprintf("line %d: %s", i+1, msg)
		if old := f.Errors["rules"]; old != "" {
			line = old + "; " + line
		}
		f.Errors["rules"] = line
	}
}

func (h *Handler) renderContentFilter(w http.ResponseWriter, r *http.Request, status int, domain string, f *form) {
	h.render(w, r, status, "content_filter.html", &view{Title: "Content filter of " + domain, Nav: "domains", Form: f,
		D: contentFilterPage{Domain: domain, Spam: spamChoices, Virus: virusChoices}})
}
