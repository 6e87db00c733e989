package replicate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Leftover is a change capture object found in one of a migration's
// stores.
type Leftover struct {
	// Store is the spec's name of the store holding it, Engine its engine.
	Store  string `json:"store"`
	Engine string `json:"engine"`
	cdc.Object
	// Capture is this migration's capture the object belongs to; empty
	// for an object of another capture (another migration's, or of a
	// source named differently): its owner is not known from here.
	Capture string `json:"capture,omitempty"`
	// Drop is the statement that removes the object by hand.
	Drop string `json:"drop"`
}

// Ours reports whether the object belongs to the migration scanned.
func (l Leftover) Ours() bool { return l.Capture != "" }

// Scan is what FindLeftovers found in a migration's stores.
type Scan struct {
	Found []Leftover `json:"found,omitempty"`
	// Problems name the stores that could not be looked into, and why.
	Problems []string `json:"problems,omitempty"`
}

// Ours returns the objects of the migration's own captures.
func (s Scan) Ours() []Leftover { return s.filter(true) }

// Others returns the objects of captures the migration did not make.
func (s Scan) Others() []Leftover { return s.filter(false) }

func (s Scan) filter(ours bool) []Leftover {
	var out []Leftover
	for _, l := range s.Found {
		if l.Ours() == ours {
			out = append(out, l)
		}
	}
	return out
}

// UsesCapture reports whether a spec has a replicate phase, that is
// whether its migration creates change capture objects at all.
func UsesCapture(spec *config.Spec) bool {
	for _, p := range spec.Phases {
		if _, ok := p.Driver.(*Spec); ok {
			return true
		}
	}
	return false
}

// FindLeftovers lists the change capture objects in every store of spec
// that this machine can reach with the DSNs the spec names: those of the
// migration's own captures (a capture's name derives from the migration
// and the store's DSN reference, so every store is a possible source) and
// any other capture's. A store that cannot be opened is a problem, not an
// error: the others are still worth reporting; one whose database does
// not exist (not created yet, or dropped by a rollback) holds nothing.
func FindLeftovers(ctx context.Context, spec *config.Spec, migration string) Scan {
	var scan Scan
	for _, name := range slices.Sorted(maps.Keys(spec.Stores)) {
		found, err := storeLeftovers(ctx, spec.Stores, name, migration)
		if errors.Is(err, datastore.ErrNoDatabase) {
			continue // a database that is not there holds no capture object
		}
		if err != nil {
			scan.Problems = append(scan.Problems, stores.NotChecked(name, "change capture objects", err))
			continue
		}
		scan.Found = append(scan.Found, found...)
	}
	return scan
}

func storeLeftovers(ctx context.Context, specStores map[string]config.StoreSpec, name, migration string) ([]Leftover, error) {
	// Read-only: looking must not create a SQLite file that is not there.
	s, err := stores.OpenReadOnly(ctx, specStores, name)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// Any store can be a source (the forward capture) and a target (the
	// reverse capture a cut-over sets up on new): both are the migration's.
	captures := []string{CaptureName(migration, specStores[name]), ReverseCaptureName(migration, specStores[name])}
	all, err := cdc.Leftovers(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	ours := map[cdc.Object]string{}
	for _, capture := range captures {
		own, err := cdc.Objects(ctx, s, capture)
		if err != nil {
			return nil, fmt.Errorf("list objects of capture %s: %w", capture, err)
		}
		for _, o := range own {
			ours[o] = capture
		}
	}
	out := make([]Leftover, 0, len(all))
	for _, o := range all {
		l := Leftover{Store: name, Engine: string(s.Engine), Object: o, Drop: DropStatement(s.Engine, o)}
		l.Capture = ours[o]
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return removalRank(out[i].Kind) < removalRank(out[j].Kind) })
	return out, nil
}

// removalRank orders objects as teardown removes them: triggers first (so
// no write lands in a changelog about to go), the slot before its
// publication.
func removalRank(kind string) int {
	return strings.Index("trigger function table slot publication", kind)
}

// DropStatement is the SQL that removes o by hand on engine.
func DropStatement(engine datastore.Engine, o cdc.Object) string {
	switch o.Kind {
	case "slot":
		return fmt.Sprintf("SELECT pg_drop_replication_slot('%s');", o.Name)
	case "publication":
		return fmt.Sprintf("DROP PUBLICATION %s;", o.Name)
	case "table":
		return fmt.Sprintf("DROP TABLE %s;", o.Name)
	case "function":
		return fmt.Sprintf("DROP FUNCTION %s();", o.Name)
	case "trigger":
		if engine == datastore.Postgres {
			return fmt.Sprintf("DROP TRIGGER %s ON %s;", o.Name, o.Table)
		}
		return fmt.Sprintf("DROP TRIGGER %s;", o.Name)
	}
	return ""
}

// Cleanup removes the objects of the migration's own captures from every
// store of spec (cdc.Teardown, by name; idempotent) and returns what it
// dropped per store. Objects of other captures are left alone.
func Cleanup(ctx context.Context, spec *config.Spec, migration string, only []Leftover) (map[string][]string, error) {
	dropped := map[string][]string{}
	done := map[[2]string]bool{}
	for _, l := range only {
		if !l.Ours() || done[[2]string{l.Store, l.Capture}] {
			continue
		}
		done[[2]string{l.Store, l.Capture}] = true
		out, err := teardownStore(ctx, spec.Stores, l.Store, l.Capture)
		dropped[l.Store] = append(dropped[l.Store], out...)
		if err != nil {
			return dropped, fmt.Errorf("store %s: remove capture %s: %w", l.Store, l.Capture, err)
		}
	}
	return dropped, nil
}

func teardownStore(ctx context.Context, specStores map[string]config.StoreSpec, name, capture string) ([]string, error) {
	s, err := stores.Open(ctx, specStores, name)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return cdc.Teardown(ctx, cdc.Options{Source: s, Name: capture})
}
