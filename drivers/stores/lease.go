package stores

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/glob"
)

// ParseResource reads a resource written by Resources back into the
// spec's store and the table: ok is false for any other resource (a
// route, a workspace, a name under the spec's resources:). Of two store
// names reading one DSN source, the first in order is given.
func ParseResource(spec *config.Spec, resource string) (store, table string, ok bool) {
	rest, found := strings.CutPrefix(resource, "store:")
	cut := strings.LastIndex(rest, "/")
	if !found || cut < 0 {
		return "", "", false
	}
	ref, table := rest[:cut], rest[cut+1:]
	for _, name := range Names(spec) {
		if storeRef(spec, name) == ref {
			return name, table, true
		}
	}
	return "", "", false
}

// storeRef is how Resources names a store: by where its DSN comes from.
func storeRef(spec *config.Spec, store string) string {
	ref := "name:" + store
	if st, ok := spec.Stores[store]; ok {
		switch {
		case st.DSN.FromEnv != "":
			ref = "env:" + st.DSN.FromEnv
		case st.DSN.FromFile != "":
			ref = "file:" + st.DSN.FromFile
		}
	}
	return ref
}

// LeaseKeys keys a store's tables by the database's identity
// (datastore.Identity), read from the store on this worker, so one
// database reached through two DSNs (127.0.0.1 and localhost, two users)
// is one lease. A store whose identity cannot be read (its database does
// not exist yet, a phase creates it; it cannot be reached or logged into,
// which preflight and the phases report in their own words) has its
// tables keyed by the resource as written: still one lease between specs
// naming it alike. Every other resource is keyed as written. It is the
// workers' LeaseKeyer.
func LeaseKeys(ctx context.Context, spec *config.Spec, resources []string) ([]activities.LeaseKey, error) {
	ids := map[string]string{} // store name -> identity, "" when it has none yet
	cands := candidates{}
	out := make([]activities.LeaseKey, len(resources))
	for i, res := range resources {
		out[i] = activities.LeaseKey{Key: res, Name: res}
		store, table, ok := ParseResource(spec, res)
		if !ok {
			continue
		}
		out[i].Name = fmt.Sprintf("table %s of store %s", table, store)
		id, known := ids[store]
		if !known {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			id = identify(ctx, spec, store)
			ids[store] = id
		}
		if id != "" {
			out[i].Key = "store:" + id + "/" + table
		}
		if isPattern(table) {
			for _, name := range cands.matching(ctx, spec, store, table) {
				also := activities.LeaseKey{
					Key:    "store:" + storeRef(spec, store) + "/" + name,
					Name:   fmt.Sprintf("table %s of store %s (by %s)", name, store, table),
					Legacy: "store:" + storeRef(spec, store) + "/" + name,
				}
				if id != "" {
					also.Key = "store:" + id + "/" + name
				}
				out[i].Also = append(out[i].Also, also)
			}
		}
	}
	return out, nil
}

func isPattern(table string) bool { return strings.ContainsAny(table, "*?[\\") }

// candidates are the table names a pattern of a store may stand for when
// a run starts, read once per store: the store's own tables, and every
// other store's tables as a phase would write them into it (through each
// mapping from that store into it, or as they are when no mapping goes
// from it into this store). A table no store has
// yet is not leased by a pattern: name it in the spec's resources: to be
// sure.
type candidates map[string][]string // store name -> names, "" read once

func (c candidates) matching(ctx context.Context, spec *config.Spec, store, pattern string) []string {
	names, ok := c[store]
	if !ok {
		names = c.read(ctx, spec, store)
		c[store] = names
	}
	var out []string
	for _, n := range names {
		if ok, _ := glob.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	return out
}

func (c candidates) read(ctx context.Context, spec *config.Spec, store string) []string {
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" {
			seen[n] = true
		}
	}
	for _, n := range tablesOf(ctx, spec, store) {
		add(n)
	}
	for _, other := range Names(spec) {
		if other == store || storeRef(spec, other) == storeRef(spec, store) {
			continue
		}
		tables := tablesOf(ctx, spec, other)
		mapped := false
		for _, key := range slices.Sorted(maps.Keys(spec.Mappings)) {
			m := spec.Mappings[key]
			if m.From != other || m.To != store {
				continue
			}
			mapped = true
			for _, n := range tables {
				if to, ok := m.TargetName(n); ok {
					add(to)
				}
			}
		}
		if !mapped {
			for _, n := range tables {
				add(n)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// tablesOf lists a store's tables, none when it cannot be read (preflight
// and the phases say why in their own words).
func tablesOf(ctx context.Context, spec *config.Spec, store string) []string {
	s, err := OpenReadOnly(ctx, spec.Stores, store)
	if err != nil {
		return nil
	}
	defer s.Close()
	names, err := s.ListTables(ctx)
	if err != nil {
		return nil
	}
	return names
}

// identify reads a store's identity, "" when it cannot be read.
func identify(ctx context.Context, spec *config.Spec, store string) string {
	s, err := OpenReadOnly(ctx, spec.Stores, store)
	if err != nil {
		return ""
	}
	defer s.Close()
	id, err := s.Identity(ctx)
	if err != nil {
		return ""
	}
	return id.String()
}
