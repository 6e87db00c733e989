package stores

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
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
// is one lease. A database that does not exist yet (a phase creates it)
// has no identity: its tables are keyed by the resource as written. Every
// other resource is keyed as written. It is the workers' LeaseKeyer.
func LeaseKeys(ctx context.Context, spec *config.Spec, resources []string) ([]activities.LeaseKey, error) {
	ids := map[string]string{} // store name -> identity, "" when it has none yet
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
			var err error
			if id, err = identify(ctx, spec, store); err != nil {
				return nil, Classify("lease "+out[i].Name, err)
			}
			ids[store] = id
		}
		if id != "" {
			out[i].Key = "store:" + id + "/" + table
		}
	}
	return out, nil
}

// identify reads a store's identity, "" for a database not created yet.
func identify(ctx context.Context, spec *config.Spec, store string) (string, error) {
	s, err := OpenReadOnly(ctx, spec.Stores, store)
	switch {
	case errors.Is(err, datastore.ErrNoDatabase):
		return "", nil
	case err != nil:
		return "", err
	}
	defer s.Close()
	id, err := s.Identity(ctx)
	if err != nil {
		return "", fmt.Errorf("store %s: %w", store, err)
	}
	return id.String(), nil
}
