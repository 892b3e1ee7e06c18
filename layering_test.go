// Package mailhost_test holds the layering test: the table of packages in
// ARCHITECTURE.md ("## Layering") is the rule, and the code must follow it.
package mailhost_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "mailhost"

// The rules of issue 16 ("One layering"), checked against the table and
// against the code, so that neither can drift into breaking them: a
// forbidden import cannot be made legal by adding it to the table.
var (
	// faces reach everything through admin: they import it and never store.
	faces = []string{"web", "api"}
	// protocolServers never import each other, directly or not.
	protocolServers = []string{"mta", "imapd", "pop3d", "managesieve"}
	// aboveStore are the protocol, service and web packages; store reaches
	// none of them, directly or not.
	aboveStore = []string{"mta", "imapd", "pop3d", "managesieve", "mda", "auth", "admin", "api", "web", "reconcile"}
)

// listedPackage is what `go list -json` says of a package (its non-test
// files only: tests may import what they need to set up).
type listedPackage struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // every package it depends on, as `go list -deps`
	GoFiles    []string
}

func goList(t *testing.T) map[string]listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps,GoFiles", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[rel(p.ImportPath)] = p
	}
	return pkgs
}

// rel turns an import path of the module into the folder the table names
// ("mailhost/cmd/mailhost" -> "cmd/mailhost"); other paths are returned
// as they are, and rel(module) is ".".
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}

// layer is a row of the table: a package and what it may import of the
// module's packages (nil with everything set for the wiring in main).
type layer struct {
	mayImport  []string
	everything bool
}

// readLayering parses the table under "## Layering" in ARCHITECTURE.md:
// | `package` | owns | `a`, `b` (or — for nothing, or everything) |
func readLayering(t *testing.T) map[string]layer {
	t.Helper()
	f, err := os.Open("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table := map[string]layer{}
	in, rows := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Layering"
			continue
		case !in || !strings.HasPrefix(line, "|"):
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if rows <= 2 { // header and separator
			continue
		}
		if len(cells) != 3 {
			t.Fatalf("ARCHITECTURE.md layering row %q: want 3 cells (package | owns | may import)", line)
		}
		names := ticked(cells[0])
		if len(names) != 1 {
			t.Fatalf("ARCHITECTURE.md layering row %q: the first cell names one package", line)
		}
		var l layer
		switch imp := strings.TrimSpace(cells[2]); imp {
		case "—":
		case "everything":
			l.everything = true
		default:
			l.mayImport = ticked(imp)
			if len(l.mayImport) == 0 {
				t.Fatalf("ARCHITECTURE.md layering row %q: may import `a`, `b`, or — or everything", line)
			}
		}
		if _, dup := table[names[0]]; dup {
			t.Fatalf("ARCHITECTURE.md layering: %s has two rows", names[0])
		}
		table[names[0]] = l
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(table) == 0 {
		t.Fatal(`ARCHITECTURE.md has no "## Layering" table`)
	}
	return table
}

// ticked returns the `backticked` words of a cell.
func ticked(cell string) []string {
	var out []string
	parts := strings.Split(cell, "`")
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

// TestLayering checks every package's imports against its row of the
// table in ARCHITECTURE.md, and the code and the table against the rules
// of the layering (issue 16).
func TestLayering(t *testing.T) {
	pkgs := goList(t)
	table := readLayering(t)

	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		p := pkgs[name]
		row, ok := table[name]
		if !ok {
			if len(p.GoFiles) > 0 {
				t.Errorf("package %s has no row in ARCHITECTURE.md's layering table: add one (what it owns, what it may import)", name)
			}
			continue
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") || row.everything {
				continue
			}
			if !slices.Contains(row.mayImport, rel(imp)) {
				t.Errorf("%s imports %s, which its row of ARCHITECTURE.md's layering table does not allow", name, rel(imp))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(table)) {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("ARCHITECTURE.md's layering table names %s, which is no package", name)
		}
	}

	// The rules hold for the table ...
	for _, f := range faces {
		if !slices.Contains(table[f].mayImport, "admin") {
			t.Errorf("layering table: %s must import admin (issue 16)", f)
		}
		if slices.Contains(table[f].mayImport, "store") {
			t.Errorf("layering table: %s may not import store; it reaches storage through admin (issue 16)", f)
		}
	}
	// ... and for the code, with every dependency, not only direct imports.
	for _, f := range faces {
		if p, ok := pkgs[f]; ok && !slices.Contains(p.Imports, module+"/admin") {
			t.Errorf("%s does not import admin (issue 16: the faces call the admin service)", f)
		}
		if p, ok := pkgs[f]; ok && slices.Contains(p.Imports, module+"/store") {
			t.Errorf("%s imports store; it must reach storage through admin (issue 16)", f)
		}
	}
	for _, dep := range reach(t, table, pkgs, "store") {
		if slices.Contains(aboveStore, dep) {
			t.Errorf("store depends on %s: store imports no protocol, service or web package (issue 16)", dep)
		}
	}
	for _, s := range protocolServers {
		for _, dep := range reach(t, table, pkgs, s) {
			if dep != s && slices.Contains(protocolServers, dep) {
				t.Errorf("%s depends on %s: protocol servers never import each other (issue 16)", s, dep)
			}
		}
	}
}

// reach returns every module package name depends on: by the code (go
// list's Deps) and by the table (its rows followed transitively).
func reach(t *testing.T, table map[string]layer, pkgs map[string]listedPackage, name string) []string {
	t.Helper()
	var out []string
	if p, ok := pkgs[name]; ok {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module+"/") {
				out = append(out, rel(d))
			}
		}
	}
	seen := map[string]bool{name: true}
	todo := []string{name}
	for len(todo) > 0 {
		n := todo[0]
		todo = todo[1:]
		for _, d := range table[n].mayImport {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				todo = append(todo, d)
			}
		}
	}
	return out
}
