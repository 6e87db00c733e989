package expand

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/schemachange"
)

// RecordKeeper is a phase spec whose driver keeps its progress in its
// store's schemachange.RecordTable, under RecordName (expand, backfill,
// contract).
type RecordKeeper interface {
	// RecordStore is the spec's name of the store the records are in.
	RecordStore() string
}

// RecordStore is the store the expand's record is kept in.
func (s *Spec) RecordStore() string { return s.Store }

// RecordStores returns, sorted, the stores the spec's phases keep
// schema-change records in.
func RecordStores(spec *config.Spec) []string {
	set := map[string]bool{}
	for _, p := range spec.Phases {
		if k, ok := p.Driver.(RecordKeeper); ok && k.RecordStore() != "" {
			set[k.RecordStore()] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// StoreRecord is one of a migration's schema-change records, in a store.
type StoreRecord struct {
	Store string `json:"store"`
	schemachange.Record
}

// Object names the record as cleanup prints it.
func (r StoreRecord) Object() string { return "schema-change progress record " + r.Record.String() }

// RecordScan is what FindRecords found.
type RecordScan struct {
	Found []StoreRecord `json:"found,omitempty"`
	// Problems name the stores that could not be looked into, and why.
	Problems []string `json:"problems,omitempty"`
}

// FindRecords lists the migration's schema-change records (its phases'
// progress: statements applied, batches done) in the stores its phases
// keep them in, changing nothing. A store that cannot be opened is a
// problem, not an error.
func FindRecords(ctx context.Context, spec *config.Spec) RecordScan {
	var scan RecordScan
	for _, name := range RecordStores(spec) {
		recs, err := storeRecords(ctx, spec, name)
		if err != nil {
			scan.Problems = append(scan.Problems, stores.NotChecked(name, "schema-change records", err))
			continue
		}
		for _, r := range recs {
			scan.Found = append(scan.Found, StoreRecord{Store: name, Record: r})
		}
	}
	return scan
}

func storeRecords(ctx context.Context, spec *config.Spec, name string) ([]schemachange.Record, error) {
	st, err := stores.Open(ctx, spec.Stores, name)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return schemachange.Records(ctx, st, RecordName(spec.Name, ""))
}

// ForgetRecords removes the migration's schema-change records from the
// stores where found holds some, so that a later run under the same name
// starts afresh instead of taking an ended run's progress for its own (an
// expand recorded as applied would apply nothing and create no trigger).
// It returns the records forgotten per store.
func ForgetRecords(ctx context.Context, spec *config.Spec, found []StoreRecord) (map[string][]StoreRecord, error) {
	byStore := map[string][]StoreRecord{}
	for _, r := range found {
		byStore[r.Store] = append(byStore[r.Store], r)
	}
	forgotten := map[string][]StoreRecord{}
	for _, name := range slices.Sorted(maps.Keys(byStore)) {
		st, err := stores.Open(ctx, spec.Stores, name)
		if err != nil {
			return forgotten, fmt.Errorf("store %s: %w", name, err)
		}
		err = schemachange.ForgetExcept(ctx, st, RecordName(spec.Name, ""), "")
		st.Close()
		if err != nil {
			return forgotten, fmt.Errorf("store %s: forget the schema-change records: %w", name, err)
		}
		forgotten[name] = byStore[name]
	}
	return forgotten, nil
}

// LaterPhases returns the names of the phases after c's in the spec whose
// drivers keep records in store. None of them has run when c's phase runs
// (phases run in order, and only compensations go back), so a record of
// theirs found then is an earlier run's under the same migration name.
// The slice is never nil: a phase spec checked before this field existed
// (a run in flight) decodes it as nil, and keeps the old rule.
func LaterPhases(c *config.CheckContext, store string) []string {
	out := []string{}
	for _, p := range c.PhasesAfter() {
		if k, ok := p.Driver.(RecordKeeper); ok && k.RecordStore() == store {
			out = append(out, p.Name)
		}
	}
	return out
}

// ForgetLater removes the records of the migration's later phases (see
// LaterPhases) from st, so that they start afresh in this run.
func ForgetLater(ctx context.Context, st *datastore.Store, migration string, later []string) error {
	names := make([]string, len(later))
	for i, p := range later {
		names[i] = RecordName(migration, p)
	}
	return schemachange.Forget(ctx, st, names...)
}

// StaysApplied says, for a record of statements applied by an expand
// phase of spec, that forgetting it leaves the schema change in place
// and how to undo it: cleanup removes what Godwit added to carry a change
// (triggers, capture objects, records), never the change itself. ""
// for any other record.
func (r StoreRecord) StaysApplied(spec *config.Spec) string {
	if r.Record.Step != "up" || r.Record.Done == 0 {
		return ""
	}
	for _, p := range spec.Phases {
		s, ok := p.Driver.(*Spec)
		if !ok || RecordName(spec.Name, p.Name) != r.Record.Name {
			continue
		}
		undo := "undo it by hand if the change must go"
		if path := s.Rollback.Path(); path != "" {
			undo = fmt.Sprintf("to undo it, run phase %s's rollback script (%s) against store %s", p.Name, path, r.Store)
		}
		// No count: the record's counts the dual-write triggers' statements
		// too, which cleanup has just removed, and the CLI cannot split
		// the SQL file (it is read on the worker) to count the rest.
		return fmt.Sprintf("what phase %s applied of %s stays in store %s (cleanup removes what Godwit added to carry the change, the dual-write triggers and records, never the change itself); %s",
			p.Name, s.SQL.Path(), r.Store, undo)
	}
	return ""
}
