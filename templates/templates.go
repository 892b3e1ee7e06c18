// Package templates holds the web panel's HTML templates, embedded. The
// web package parses them once at start-up: layout.html and the partials
// (_*.html) with each page.
package templates

import (
	"embed"
	"html/template"
	"io/fs"
	"strings"
)

//go:embed *.html
var files embed.FS

// Parse returns one template set per page (by file name, "login.html"),
// each holding the layout, the partials and that page, with funcs.
func Parse(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "layout.html", "_*.html")
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, e := range entries {
		n := e.Name()
		if n == "layout.html" || strings.HasPrefix(n, "_") || !strings.HasSuffix(n, ".html") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, err
		}
		out[n] = t
	}
	return out, nil
}
