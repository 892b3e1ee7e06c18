// Package static holds the web panel's CSS and JavaScript, embedded, and
// serves them under URLs that carry a checksum of their content
// (/static/app.3f2a1c9d.css), so browsers may cache them for a year and a
// new release is fetched at once.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js
var files embed.FS

// Prefix is where the files are served.
const Prefix = "/static/"

type asset struct {
	body  []byte
	ctype string
}

// Files serves the embedded files under checksum URLs. Build it once with
// New; it is read-only afterwards.
type Files struct {
	urls  map[string]string // "app.css" -> "/static/app.3f2a1c9d.css"
	byURL map[string]asset  // "/static/app.3f2a1c9d.css" -> content
}

// New reads the embedded files and computes their URLs.
func New() *Files {
	f := &Files{urls: map[string]string{}, byURL: map[string]asset{}}
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		url := Prefix + strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:4]) + ext
		f.urls[e.Name()] = url
		f.byURL[url] = asset{body: body, ctype: mime.TypeByExtension(ext)}
	}
	return f
}

// URL returns the checksum URL of a file ("app.css"); "" when there is none.
func (f *Files) URL(name string) string { return f.urls[name] }

// ServeHTTP answers GET and HEAD of a checksum URL.
func (f *Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := f.byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}
