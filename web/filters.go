package web

import (
	"fmt"
	"net/http"
	"strings"

	"mailhost/admin"
)

// The owner's filter page (/me/filters): rules built from a form and
// stored as a Sieve script, the active script as text (errors with line
// numbers next to it), and "test this message".

// ruleRows is how many rule rows the form shows beyond the rules saved.
const ruleRows = 3

type filtersPage struct {
	Rules     []admin.FilterRule
	Rows      []ruleRow
	Active    string // the active script's name, "" none
	FromRules bool   // the active script is the panel's rules
	LastError *admin.SieveErrorView
	Actions   []string // of a test
	Tested    bool
	Fields    []option
	Matches   []option
	Actions_  []option
}

type option struct{ Value, Label string }

// ruleRow is a row of the rules form with the errors of its fields.
type ruleRow struct {
	I    int
	Rule admin.FilterRule
	Errs []string
}

var (
	ruleFields  = []option{{"from", "From"}, {"to", "To or Cc"}, {"subject", "Subject"}, {"header", "Header field"}, {"size", "Size"}}
	ruleMatches = []option{{"contains", "contains"}, {"is", "is"}, {"matches", "matches (* and ?)"}, {"over", "is over"}, {"under", "is under"}}
	ruleActions = []option{{"move", "move to folder"}, {"copy", "copy to folder"}, {"flag", "flag"}, {"read", "mark read"},
		{"forward", "forward to"}, {"discard", "discard"}, {"reject", "reject with text"}}
)

// filtersState reads what the page shows: the rules of the panel's script
// and the active script's text into the form.
func (h *Handler) filtersState(r *http.Request, f *form) (filtersPage, error) {
	o := current(r).Owner
	p := filtersPage{Fields: ruleFields, Matches: ruleMatches, Actions_: ruleActions}
	list, err := h.svc.OwnSieveScripts(r.Context(), o)
	if err != nil {
		return p, err
	}
	p.LastError = list.LastError
	for _, sc := range list.Scripts {
		if sc.Active {
			p.Active = sc.Name
		}
	}
	if rs, err := h.svc.OwnSieveScript(r.Context(), o, admin.RulesScriptName); err == nil {
		p.Rules, _ = admin.ParseRules(rs.Content)
	}
	if p.Active != "" && f.Values.Get("content") == "" {
		sc, err := h.svc.OwnSieveScript(r.Context(), o, p.Active)
		if err != nil {
			return p, err
		}
		f.Values.Set("content", sc.Content)
		f.Values.Set("name", sc.Name)
		_, p.FromRules = admin.ParseRules(sc.Content)
	}
	if f.Values.Get("name") == "" {
		f.Values.Set("name", "main")
	}
	return p, nil
}

func (h *Handler) renderFilters(w http.ResponseWriter, r *http.Request, status int, f *form, p filtersPage) {
	for i := range len(p.Rules) + ruleRows {
		row := ruleRow{I: i}
		if i < len(p.Rules) {
			row.Rule = p.Rules[i]
		}
		for _, k := range []string{"field", "header", "match", "value", "action", "target"} {
			if e := f.Err(fmt.Sprintf("rules[%d].%s", i, k)); e != "" {
				row.Errs = append(row.Errs, fmt.Sprintf("rule %d, %s: %s", i+1, k, e))
			}
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, status, "filters.html", &view{Title: "Filters", Nav: "filters", Form: f, D: p})
}

func (h *Handler) filtersPage(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	p, err := h.filtersState(r, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderFilters(w, r, http.StatusOK, f, p)
}

// rulesFromForm reads the rule rows; a row without a value and an action
// that needs none is empty and dropped.
func rulesFromForm(f *form) []admin.FilterRule {
	var out []admin.FilterRule
	for i := 0; i < 50; i++ {
		k := func(s string) string { return fmt.Sprintf("rules[%d].%s", i, s) }
		if _, ok := f.Values[k("field")]; !ok {
			break
		}
		rule := admin.FilterRule{Field: f.Get(k("field")), Header: f.Get(k("header")), Match: f.Get(k("match")),
			Value: f.Get(k("value")), Action: f.Get(k("action")), Target: f.Get(k("target"))}
		if rule.Value == "" && rule.Target == "" && rule.Header == "" {
			continue
		}
		out = append(out, rule)
	}
	return out
}

func (h *Handler) filtersRules(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	rules := rulesFromForm(f)
	_, err := h.svc.SetOwnFilterRules(r.Context(), current(r).Owner, rules)
	if f.fail(err) {
		p, perr := h.filtersState(r, newForm(nil))
		if perr != nil {
			h.fail(w, r, perr)
			return
		}
		p.Rules = rules
		h.renderFilters(w, r, f.Status(), f, p)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/me/filters?done=saved")
}

func (h *Handler) filtersScript(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	o := current(r).Owner
	content := strings.ReplaceAll(f.Values.Get("content"), "\r\n", "\n")
	name := f.Get("name")
	_, err := h.svc.SetOwnSieveScript(r.Context(), o, name, admin.SieveScriptInput{Content: &content})
	if err == nil {
		err = h.svc.ActivateOwnSieveScript(r.Context(), o, name)
	}
	if f.fail(err) {
		p, perr := h.filtersState(r, f)
		if perr != nil {
			h.fail(w, r, perr)
			return
		}
		h.renderFilters(w, r, f.Status(), f, p)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/me/filters?done=saved")
}

// filtersTest runs the script in the text field (the active one when it
// is empty) against the pasted message.
func (h *Handler) filtersTest(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	o := current(r).Owner
	p, err := h.filtersState(r, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	content, msg := f.Values.Get("content"), f.Values.Get("message")
	res, err := h.svc.TestOwnSieveScript(r.Context(), o, admin.SieveTestInput{Content: &content, Message: &msg, From: f.Get("from")})
	if f.fail(err) {
		h.renderFilters(w, r, f.Status(), f, p)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p.Actions, p.Tested = res.Actions, true
	h.renderFilters(w, r, http.StatusOK, f, p)
}
