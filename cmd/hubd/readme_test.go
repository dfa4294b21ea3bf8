package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// readmeBlocks returns the fenced code blocks of README.md in lang.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadmeConfig loads every JSON config of README.md with hubd's
// loader, from the repository root as the README's commands run, so that
// the README cannot show a config hubd refuses.
func TestReadmeConfig(t *testing.T) {
	blocks := readmeBlocks(t, "json")
	if len(blocks) == 0 {
		t.Fatal("no JSON block in README.md")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for i, b := range blocks {
		f := writeFile(t, t.TempDir(), "hubd.json", b)
		if _, err := Load([]string{"-config", f}, env(nil), os.Stderr); err != nil {
			t.Errorf("README JSON block %d:\n%s\n%v", i+1, b, err)
		}
	}
}

// TestReadmeEmbedCompiles builds every whole Go program of README.md
// (package main) against this checkout.
func TestReadmeEmbedCompiles(t *testing.T) {
	var progs []string
	for _, b := range readmeBlocks(t, "go") {
		if strings.HasPrefix(b, "package main") {
			progs = append(progs, b)
		}
	}
	if len(progs) == 0 {
		t.Fatal("no Go program in README.md")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range progs {
		dir := t.TempDir()
		writeFile(t, dir, "go.mod", "module readme\n\ngo 1.26\n\nrequire github.com/hubd/hubd v0.0.0\n\nreplace github.com/hubd/hubd => "+root+"\n")
		writeFile(t, dir, "go.sum", string(sum))
		writeFile(t, dir, "main.go", p)
		cmd := exec.Command("go", "build", "-mod=mod", "-o", os.DevNull, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README Go program %d does not build: %v\n%s\n%s", i+1, err, out, p)
		}
	}
}

// TestReadmeNamesEveryFlag: the README's flags section names every flag
// hubd has, so that a new one cannot go unmentioned.
func TestReadmeNamesEveryFlag(t *testing.T) {
	var usage strings.Builder
	if _, err := Load([]string{"-h"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("-h: no error")
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(flags) < 10 {
		t.Fatalf("only %d flags in the usage:\n%s", len(flags), usage.String())
	}
	for _, f := range flags {
		if !strings.Contains(string(raw), "`"+f[1]+" ") && !strings.Contains(string(raw), "`"+f[1]+"`") {
			t.Errorf("README.md does not name the flag %s", f[1])
		}
	}
}

// TestReadmeConfigReference: the README's config file reference names
// every key of Config, nested ones by their path.
func TestReadmeConfigReference(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(raw), "## Config file reference")
	if !ok {
		t.Fatal("README.md has no config file reference")
	}
	ref, _, _ = strings.Cut(ref, "\n## ")
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(ty reflect.Type, prefix string) {
		for i := range ty.NumField() {
			f := ty.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			keys = append(keys, path)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Duration]():
				walk(ft, path+".")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), path+"[].")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if len(keys) < 40 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(ref, "| `"+k+"` |") {
			t.Errorf("the config file reference has no row for %s", k)
		}
	}
}
