// Package schematest holds the SDKs to sdk/schema: it reads the property
// names of the envelope and decision schemas and the keys of a JSON
// object, for tests that compare what an SDK reads or writes with them.
package schematest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// dir is sdk/schema, found from this file.
func dir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("schematest: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "sdk", "schema")
}

// Props returns the sorted property names of schema file (e.g.
// "decision.schema.json") at path: none for the top level, or the names of
// nested object properties ("socket", "handshake").
func Props(t testing.TB, file string, path ...string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir(t), file))
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var n node
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, p := range path {
		raw, ok := n.Properties[p]
		if !ok {
			t.Fatalf("%s has no property %q", file, p)
		}
		n = node{}
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatalf("%s, %s: %v", file, p, err)
		}
	}
	return sortedKeys(n.Properties)
}

// Keys returns the sorted keys of the JSON object obj at path.
func Keys(t testing.TB, obj []byte, path ...string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("%s: %v", obj, err)
	}
	for _, p := range path {
		raw, ok := m[p]
		if !ok {
			t.Fatalf("%s has no key %q", obj, p)
		}
		m = nil
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	return sortedKeys(m)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
