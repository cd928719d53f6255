package lineage

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestPutGetAll(t *testing.T) {
	s := Open(t.TempDir())
	a, b := digest.FromString("a"), digest.FromString("b")
	if _, ok := s.Get(a); ok {
		t.Fatal("empty store has a record")
	}
	r := Record{Image: b, Parent: a, Container: "c1", ContainerName: "warm_wirth", Created: time.Unix(1, 0).UTC()}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(b)
	if !ok || got != r {
		t.Fatalf("Get = %+v %v", got, ok)
	}
	all, err := s.All()
	if err != nil || len(all) != 1 || all[0] != r {
		t.Fatalf("All = %+v %v", all, err)
	}
	if err := s.Put(Record{Image: "sha256:nothex"}); err == nil {
		t.Error("an invalid digest names no file")
	}
	if err := s.Remove(b); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(b); ok {
		t.Error("removed record still there")
	}
}
