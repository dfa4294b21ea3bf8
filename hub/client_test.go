package hub

import "testing"

func TestSocketSet(t *testing.T) {
	t.Parallel()
	sock := func(nsp string) *Socket { return &Socket{nsp: &Namespace{name: nsp}} }
	var ss socketSet
	a, b, c := sock("/"), sock("/b"), sock("/c")
	ss.put(a)
	ss.put(b)
	ss.put(c)
	if ss.len() != 3 || ss.get("/") != a || ss.get("/b") != b || ss.get("/c") != c || ss.get("/x") != nil {
		t.Fatalf("after puts: len %d", ss.len())
	}
	ss.del(a)
	if ss.len() != 2 || ss.get("/") != nil || ss.get("/b") != b {
		t.Fatalf("after del: len %d", ss.len())
	}
	b2 := sock("/b")
	ss.put(b2) // replaces b, wherever it is kept
	if ss.len() != 2 || ss.get("/b") != b2 {
		t.Fatalf("after replace: len %d", ss.len())
	}
	ss.del(b) // no longer the socket of /b: nothing happens
	if ss.get("/b") != b2 {
		t.Fatal("a stale socket removed its replacement")
	}
	a2 := sock("/")
	ss.put(a2)
	if ss.len() != 3 || ss.get("/") != a2 {
		t.Fatalf("after re-adding /: len %d", ss.len())
	}
	for _, s := range []*Socket{a2, b2, c} {
		ss.del(s)
	}
	if ss.len() != 0 {
		t.Fatalf("after removing all: len %d", ss.len())
	}
}
