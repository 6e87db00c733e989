// Package stores is what the data-plane drivers (provision, copy) share:
// opening a spec's store by name on the worker, checking a driver
// section's store names and table patterns, and turning datastore errors
// into the errors the workflow's retry policy understands.
package stores

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/suggest"
)

// OpenTimeout bounds connecting to a store: an unreachable one must become
// a problem or a retry, not a hung activity.
const OpenTimeout = 15 * time.Second

// Open resolves the named store's DSN on this worker and connects to it.
// Errors name the store and never hold the DSN.
func Open(ctx context.Context, spec map[string]config.StoreSpec, name string) (*datastore.Store, error) {
	return open(ctx, spec, name, datastore.Open)
}

// OpenReadOnly is Open for a check that must change nothing (a
// preflight): a SQLite file is opened read-only, and one that does not
// exist is reported missing instead of being created.
func OpenReadOnly(ctx context.Context, spec map[string]config.StoreSpec, name string) (*datastore.Store, error) {
	return open(ctx, spec, name, datastore.OpenReadOnly)
}

// OpenOne is Open for a store known by its spec alone (a section that
// carries its stores, a CLI flag's): name is for messages.
func OpenOne(ctx context.Context, name string, st config.StoreSpec) (*datastore.Store, error) {
	return Open(ctx, map[string]config.StoreSpec{name: st}, name)
}

// DSN is Resolve for what needs only the DSN (a capture's replication
// connection). The DSN is a secret: never log it or put it in a result.
func DSN(spec map[string]config.StoreSpec, name string) (string, error) {
	_, dsn, err := Resolve(spec, name)
	return dsn, err
}

// Pick returns the named stores' specs, for a section to carry (nil when
// the spec has none of them).
func Pick(spec *config.Spec, names ...string) map[string]config.StoreSpec {
	out := map[string]config.StoreSpec{}
	for _, n := range names {
		if st, ok := spec.Stores[n]; ok {
			out[n] = st
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Resolve returns the named store's engine and its DSN, read on this
// worker: for what needs the DSN itself (creating its database). The DSN
// is a secret: never log it or put it in a result.
func Resolve(spec map[string]config.StoreSpec, name string) (datastore.Engine, string, error) {
	st, ok := spec[name]
	if !ok {
		return "", "", fmt.Errorf("store %s: %w: not in the spec's stores", name, datastore.ErrBadDSN)
	}
	engine, err := datastore.ParseEngine(st.Engine)
	if err != nil {
		return "", "", fmt.Errorf("store %s: %w", name, err)
	}
	dsn, err := activities.ResolveSecret(st.DSN)
	if err != nil {
		return "", "", &unreadableDSN{store: name, err: err}
	}
	return engine, dsn, nil
}

func open(ctx context.Context, spec map[string]config.StoreSpec, name string,
	openFn func(context.Context, datastore.Engine, string) (*datastore.Store, error)) (*datastore.Store, error) {
	engine, dsn, err := Resolve(spec, name)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	s, err := openFn(octx, engine, dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	return s, nil
}

// CheckStoreRef reports a from/to field that names no store of the spec.
func CheckStoreRef(c *config.CheckContext, field, name string) {
	known := Names(c.Spec)
	switch {
	case name == "":
		c.Errorf(field, "is required: the name of one of the spec's stores (%s)", listOrNone(known))
	case !contains(known, name):
		c.Errorf(field, "%q is not one of the spec's stores%s (%s): add it under stores: or fix the name", name, suggest.DidYouMean(name, known), listOrNone(known))
	}
}

// CheckTables reports an empty table list and every bad pattern.
func CheckTables(c *config.CheckContext, field string, tables []string) {
	if len(tables) == 0 {
		c.Errorf(field, "is required: list the tables, by name or glob pattern, e.g. [customers, \"orders_*\"]")
	}
	for i, p := range tables {
		if err := datastore.ValidatePattern(p); err != nil {
			c.Errorf(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		}
	}
}

// Names returns the spec's store names, sorted.
func Names(spec *config.Spec) []string {
	names := make([]string, 0, len(spec.Stores))
	for n := range spec.Stores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "the spec has none: add stores: with engine and dsn"
	}
	return "the spec has " + strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Resources names the target tables of a phase writing into a store: two
// migrations must never write (or create, or drop) the same tables. The
// store is identified by where its DSN comes from (env:NEW_DSN,
// file:/run/secrets/new), not by its name in the spec, which another spec
// may give to another database: store:env:NEW_DSN/orders_*. A pattern is
// claimed as written, and LeaseKeys also leases the tables it stands for
// when the run starts. These names are the old
// lease form; the lease itself is keyed by the database's identity
// (LeaseKeys).
func Resources(spec *config.Spec, store string, tables []string) []string {
	ref := storeRef(spec, store)
	out := make([]string, 0, len(tables))
	for _, t := range tables {
		out = append(out, "store:"+ref+"/"+t)
	}
	return out
}

// Errors are the kinds of error of a driver that reads or writes stores:
// a table whose columns changed under the phase pauses the migration; a
// datastore error that retrying cannot fix is a ConfigError; anything
// else (a lost connection, a deadlock) is retried.
var Errors = []activities.ErrorKind{
	{Is: activities.IsError(datastore.ErrSchemaDrift), Type: activities.ErrTypeSchemaDrift},
	{Is: datastore.IsPermanent, Type: activities.ErrTypeConfig},
}

// Problem turns an error into a preflight sentence about store name.
func Problem(name string, err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "store "+name+": ")
	var missing *datastore.MissingDatabaseError
	if errors.As(err, &missing) {
		return fmt.Sprintf("store %s: %s: create it, or let the provision phase into %s create it (provision: {createDatabase: true})", name, missing, name)
	}
	if errors.Is(err, datastore.ErrAccessDenied) {
		return fmt.Sprintf("store %s: access denied (check the user and password in its DSN, and its privileges): %s", name, msg)
	}
	return fmt.Sprintf("store %s: %s", name, msg)
}

// Unreachable is the preflight sentence for a store that cannot be opened.
func Unreachable(name string, spec map[string]config.StoreSpec, err error) string {
	if errors.Is(err, datastore.ErrBadDSN) || errors.Is(err, datastore.ErrAccessDenied) || errors.Is(err, datastore.ErrNoDatabase) {
		return Problem(name, err)
	}
	return fmt.Sprintf("store %s (%s) is not reachable from this worker: %s", name, spec[name].Engine,
		strings.TrimPrefix(err.Error(), "store "+name+": "))
}

// HumanCount writes n as Humanize does and the noun, singular for one
// (migration.Count's rule): "1 change", "1,234 changes".
func HumanCount(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Humanize(n) + " " + migration.Plural(noun)
}

// Humanize writes n with thousands separators: 1,000,000.
func Humanize(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ResolveEach resolves the patterns on s one by one, so that preflight can
// list every pattern that matches nothing, not only the first. It returns
// the tables found and a sentence per pattern that matched none.
func ResolveEach(ctx context.Context, s *datastore.Store, name string, patterns []string) ([]string, []string, error) {
	all, err := s.ListTables(ctx)
	if err != nil {
		return nil, nil, err
	}
	var found, problems []string
	seen := map[string]bool{}
	for _, p := range patterns {
		got, err := datastore.MatchTables(all, []string{p})
		if err != nil {
			have := "it has no tables"
			if len(all) > 0 {
				have = "it has " + strings.Join(firstN(all, 10), ", ")
			}
			if datastore.IsGlob(p) {
				problems = append(problems, fmt.Sprintf("store %s: pattern %q matches no table (%s)", name, p, have))
			} else {
				problems = append(problems, fmt.Sprintf("store %s: table %q does not exist (%s)", name, p, have))
			}
			continue
		}
		for _, t := range got {
			if !seen[t] {
				seen[t] = true
				found = append(found, t)
			}
		}
	}
	sort.Strings(found)
	return found, problems, nil
}

func firstN(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string(nil), list[:n]...), fmt.Sprintf("and %d more", len(list)-n))
}

// unreadableDSN is a DSN reference this worker cannot resolve (variable
// unset, file missing): datastore.ErrBadDSN, so permanent, with a message
// that says what to fix.
type unreadableDSN struct {
	store string
	err   error
}

func (e *unreadableDSN) Error() string {
	return fmt.Sprintf("store %s: cannot read its DSN: %v", e.store, e.err)
}

func (e *unreadableDSN) Unwrap() []error { return []error{datastore.ErrBadDSN, e.err} }

// UnreadableDSN returns why a store's DSN reference could not be read
// here (variable unset, file missing) when that is what err is, else nil:
// for a caller that words it its own way (the CLI: "cannot read its DSN
// here").
func UnreadableDSN(err error) error {
	var u *unreadableDSN
	if errors.As(err, &u) {
		return u.err
	}
	return nil
}

// NotChecked words why store name was not checked for what (change
// capture objects, dual-write triggers) from this machine. A DSN reference
// this process cannot read (a variable only the worker's environment sets)
// is said as what it is: the CLI could not look, the worker resolves its
// own, the run is not affected; not as a failure of the store.
func NotChecked(name, what string, err error) string {
	if cause := UnreadableDSN(err); cause != nil {
		return fmt.Sprintf("store %s not checked for %s from here — %v; the worker reads its own, so the run is not affected: give this shell the same to check %s too", name, what, cause, name)
	}
	return fmt.Sprintf("store %s not checked for %s: %v", name, what, err)
}

// OpenPair opens a phase's from and to stores for its preflight, changing
// nothing (SQLite read-only). A store that cannot be opened is nil, with
// its problem in the list, unless its database does not exist yet and the
// plan creates it (provision's createDatabase): then it is nil with no
// problem, and the caller checks what it can without it. Two stores that
// are the same database under two names are a problem: a copy onto itself
// would be a no-op that looks like success, and its rollback would empty
// the source. close closes what was opened.
func OpenPair(ctx context.Context, spec *config.Spec, plan Plan, fromName, toName string) (from, to *datastore.Store, problems []string, close func()) {
	openOne := func(name string) *datastore.Store {
		s, err := OpenReadOnly(ctx, spec.Stores, name)
		switch {
		case err == nil:
			return s
		case errors.Is(err, datastore.ErrNoDatabase) && plan.Database(name):
			// Created by a phase before the one that needs it.
		default:
			problems = append(problems, Unreachable(name, spec.Stores, err))
		}
		return nil
	}
	from, to = openOne(fromName), openOne(toName)
	if p := SameDatabase(ctx, fromName, from, toName, to); p != "" {
		problems = append(problems, p)
	}
	return from, to, problems, func() {
		if from != nil {
			from.Close()
		}
		if to != nil {
			to.Close()
		}
	}
}

// SameDatabase is the problem of two stores of a phase that are one
// database (their identities are equal), "" when they are not or cannot
// be told (a store not open, an identity that cannot be read).
func SameDatabase(ctx context.Context, aName string, a *datastore.Store, bName string, b *datastore.Store) string {
	if a == nil || b == nil || aName == bName {
		return ""
	}
	idA, errA := a.Identity(ctx)
	idB, errB := b.Identity(ctx)
	if errA != nil || errB != nil || idA != idB {
		return ""
	}
	return fmt.Sprintf("stores %s and %s are the same database (%s): the phase would read and write one database, and its rollback would empty the source; point %s's DSN at the other database",
		aName, bName, idA, bName)
}

// RefuseSameDatabase is SameDatabase for a phase's run (which may have no
// preflight before it): an error that is datastore.ErrSameDatabase (so
// permanent), nil when the two stores are different databases.
func RefuseSameDatabase(ctx context.Context, aName string, a *datastore.Store, bName string, b *datastore.Store) error {
	if p := SameDatabase(ctx, aName, a, bName, b); p != "" {
		return &sameDatabase{msg: p}
	}
	return nil
}

type sameDatabase struct{ msg string }

func (e *sameDatabase) Error() string { return e.msg }
func (e *sameDatabase) Unwrap() error { return datastore.ErrSameDatabase }

// TotalText is a row total as Humanize writes it, "about …" while it is
// still the planner's estimate (a copy counts a large table beside it).
func TotalText(n int64, estimated bool) string {
	if estimated {
		return "about " + Humanize(n)
	}
	return Humanize(n)
}
