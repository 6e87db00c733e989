package expand

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Leftover is a dual-write trigger of Godwit's found in a store of a
// migration's spec.
type Leftover struct {
	// Store is the spec's name of the store holding it, Engine its engine.
	Store  string `json:"store"`
	Engine string `json:"engine"`
	datastore.DualWriteTrigger
	// Ours is true when the trigger's name carries the migration's tag,
	// or carries no tag (a run from before tags) and is on a table the
	// migration's expand phases dual-write in this store. Otherwise it is
	// another migration's: Tagged says whether its name says so (another
	// tag) or it is only on another table.
	Ours   bool `json:"ours"`
	Tagged bool `json:"tagged,omitempty"`
	// Drop is the SQL that removes the trigger by hand.
	Drop string `json:"drop"`
}

// Object names the trigger as status and cleanup print it.
func (l Leftover) Object() string {
	return fmt.Sprintf("dual-write trigger %s on %s", l.Name, l.Table)
}

// Scan is what FindLeftovers found.
type Scan struct {
	Found []Leftover `json:"found,omitempty"`
	// Problems name the stores that could not be looked into, and why.
	Problems []string `json:"problems,omitempty"`
}

// Ours returns the triggers on the migration's dual-written tables.
func (s Scan) Ours() []Leftover { return s.filter(true) }

// Others returns the triggers on other tables.
func (s Scan) Others() []Leftover { return s.filter(false) }

func (s Scan) filter(ours bool) []Leftover {
	var out []Leftover
	for _, l := range s.Found {
		if l.Ours == ours {
			out = append(out, l)
		}
	}
	return out
}

// DualWriteTables returns, per store, the tables the spec's expand phases
// dual-write; empty when the migration installs no dual-write trigger.
func DualWriteTables(spec *config.Spec) map[string][]string {
	out := map[string][]string{}
	for _, p := range spec.Phases {
		if s, ok := p.Driver.(*Spec); ok && len(s.DualWrite) > 0 {
			out[s.Store] = append(out[s.Store], s.Tables()...)
		}
	}
	return out
}

// UsesDualWrite reports whether the spec installs dual-write triggers.
func UsesDualWrite(spec *config.Spec) bool { return len(DualWriteTables(spec)) > 0 }

// FindLeftovers lists Godwit's dual-write triggers in every store the
// spec's expand phases dual-write in, from this machine with the DSNs the
// spec names. A trigger whose name carries the migration's tag is its own;
// one without a tag (created before tags) is its own when it is on a table
// this migration dual-writes (one table has one set). A store that cannot
// be opened is a problem, not an error.
func FindLeftovers(ctx context.Context, spec *config.Spec) Scan {
	var scan Scan
	tables := DualWriteTables(spec)
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		found, err := storeLeftovers(ctx, spec.Stores, name, tables[name], datastore.DualWriteTag(spec.Name))
		if err != nil {
			scan.Problems = append(scan.Problems, stores.NotChecked(name, "dual-write triggers", err))
			continue
		}
		scan.Found = append(scan.Found, found...)
	}
	return scan
}

func storeLeftovers(ctx context.Context, specStores map[string]config.StoreSpec, name string, tables []string, tag string) ([]Leftover, error) {
	st, err := stores.Open(ctx, specStores, name)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	trs, err := st.DualWriteTriggers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Leftover, 0, len(trs))
	for _, tr := range trs {
		onOurs := slices.ContainsFunc(tables, func(t string) bool { return strings.EqualFold(t, tr.Table) })
		out = append(out, Leftover{Store: name, Engine: string(st.Engine), DualWriteTrigger: tr,
			Ours: tr.Tag == tag || tr.Tag == "" && onOurs, Tagged: tr.Tag != "",
			Drop: strings.Join(st.DropDualWriteSQL(tr), "; ") + ";"})
	}
	return out, nil
}

// Cleanup removes the given triggers of the migration's own (others are
// left alone), store by store, and returns the names removed per store.
// Removing one already gone is harmless.
func Cleanup(ctx context.Context, spec *config.Spec, only []Leftover) (map[string][]string, error) {
	byStore := map[string][]datastore.DualWriteTrigger{}
	for _, l := range only {
		if l.Ours {
			byStore[l.Store] = append(byStore[l.Store], l.DualWriteTrigger)
		}
	}
	removed := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(byStore)) {
		st, err := stores.Open(ctx, spec.Stores, name)
		if err != nil {
			return removed, fmt.Errorf("store %s: %w", name, err)
		}
		err = dropTriggers(ctx, st, byStore[name], func(tr string) { removed[name] = append(removed[name], tr) })
		st.Close()
		if err != nil {
			return removed, fmt.Errorf("store %s: %w", name, err)
		}
	}
	return removed, nil
}

// dropTriggers removes exactly the given triggers (not every trigger of
// Godwit's on their tables: another migration's may be there), calling
// done with each name removed.
func dropTriggers(ctx context.Context, st *datastore.Store, trs []datastore.DualWriteTrigger, done func(string)) error {
	for _, tr := range trs {
		for _, q := range st.DropDualWriteSQL(tr) {
			if _, err := st.DB.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("remove dual-write trigger %s on %s: %w", tr.Name, tr.Table, err)
			}
		}
		done(tr.Name)
	}
	return nil
}
