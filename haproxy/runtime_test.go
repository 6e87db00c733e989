package haproxy_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/godwit/godwit/haproxy"
	"github.com/godwit/godwit/haproxy/haproxytest"
)

func TestSplitMovesAndRestoresWeights(t *testing.T) {
	rt := haproxytest.Start(t)
	ctx := context.Background()
	for _, want := range []int{1, 25, 100, 40, 0} {
		if err := rt.Split(ctx, "be", "s1", "s2", want); err != nil {
			t.Fatalf("split %d: %v", want, err)
		}
		got, err := rt.Percent(ctx, "be", "s1", "s2")
		if err != nil {
			t.Fatal(err)
		}
		nw, _ := rt.Weight(ctx, "be", "s2")
		lw, _ := rt.Weight(ctx, "be", "s1")
		if got != want || nw != want || lw != 100-want {
			t.Fatalf("after split %d: percent %d, weights s1=%d s2=%d", want, got, lw, nw)
		}
	}
}

func TestRefusals(t *testing.T) {
	rt := haproxytest.Start(t)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
	}{
		{"unknown server", rt.SetWeight(ctx, "be", "nope", 10)},
		{"unknown backend", rt.SetWeight(ctx, "nobe", "s1", 10)},
		{"weight out of range", rt.SetWeight(ctx, "be", "s1", 300)},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, haproxy.ErrRefused) {
			t.Errorf("%s: err = %v, want ErrRefused", tc.name, tc.err)
		}
	}
	if _, err := (haproxy.Runtime{Socket: filepath.Join(t.TempDir(), "none.sock")}).Weight(ctx, "be", "s1"); err == nil || errors.Is(err, haproxy.ErrRefused) {
		t.Errorf("missing socket: err = %v, want a connection error", err)
	}
}
