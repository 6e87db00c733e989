package replicate

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Preflight connects to both stores and checks, changing nothing, that
// every source table exists with a primary key, that the capture can be
// created (logical: wal_level, the REPLICATION role, table ownership for
// the publication, a free slot; triggers: the TRIGGER and CREATE
// privileges, and on MySQL with binary logging the right to create
// triggers), and that the target tables exist (or are provisioned
// earlier) and are writable.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	plan := stores.Before(spec, phase.Name)
	from, to, problems, closeStores := stores.OpenPair(ctx, spec, plan, s.From, s.To)
	defer closeStores()
	if from == nil {
		return problems
	}
	names, missing, err := stores.ResolveEach(ctx, from, s.From, s.Tables)
	if err != nil {
		return append(problems, stores.Problem(s.From, err))
	}
	problems = append(problems, missing...)
	for _, n := range names {
		t, err := from.Introspect(ctx, n)
		if err != nil {
			problems = append(problems, stores.Problem(s.From, err))
			continue
		}
		if t.CheckCopyable() != nil {
			problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key: changes are applied by key, so add one", s.From, n))
		}
	}
	method := s.Method
	targetOf := func(n string) string { return n }
	if s.MappingSpec != nil {
		mapped, err := stores.MappedBySource(ctx, from, s.MappingSpec)
		if err != nil {
			problems = append(problems, fmt.Sprintf("mapping %s on store %s: %v", s.Mapping, s.From, err))
		}
		targetOf = func(n string) string {
			if m, ok := mapped[n]; ok {
				return m.Target
			}
			return n
		}
	}
	if s.mode() == ModeSetup {
		problems = append(problems, CaptureProblems(ctx, from, s.From, method, names)...)
	}
	if to != nil {
		for _, n := range names {
			tn := targetOf(n)
			if _, err := to.Introspect(ctx, tn); err != nil {
				if !plan.Table(s.To, tn) {
					problems = append(problems, fmt.Sprintf("store %s: table %s does not exist: provision it in an earlier phase or create it", s.To, tn))
				}
				continue
			}
			if err := to.CheckWrite(ctx, tn); err != nil {
				problems = append(problems, fmt.Sprintf("store %s: the user cannot write table %s: %v", s.To, tn, err))
			}
		}
	}
	return problems
}

// CaptureProblems checks, changing nothing, that a capture of the tables
// can be created on store from (named store in the messages) with the
// method (a spec's name: "", auto, logical, triggers). The cutover driver
// checks its reverse capture on new with it.
func CaptureProblems(ctx context.Context, from *datastore.Store, store, methodName string, tables []string) []string {
	want, _ := cdc.ParseMethod(methodName)
	method, err := cdc.Resolve(ctx, from, want)
	if err != nil {
		return []string{fmt.Sprintf("store %s: %v", store, err)}
	}
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("store %s: ", store)+fmt.Sprintf(format, args...))
	}
	switch {
	case method == cdc.MethodLogical:
		var super, repl bool
		if err := from.DB.QueryRowContext(ctx, "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&super, &repl); err != nil {
			add("cannot read the user's role: %v", err)
			return problems
		}
		if !super && !repl {
			add("the user has neither the REPLICATION attribute nor superuser: logical replication needs ALTER ROLE ... REPLICATION (or method: triggers)")
		}
		if !super {
			for _, t := range tables {
				var owner bool
				err := from.DB.QueryRowContext(ctx, "SELECT pg_has_role(tableowner, 'USAGE') FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1", t).Scan(&owner)
				if err == nil && !owner {
					add("the user does not own table %s: creating a publication for it needs ownership (or superuser)", t)
				}
			}
		}
		if err := cdc.CheckReplicaIdentity(ctx, from, tables); err != nil {
			add("%v", err)
		}
		var free int
		if err := from.DB.QueryRowContext(ctx, "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)").Scan(&free); err == nil && free < 1 {
			add("no free replication slot (max_replication_slots is used up): drop an unused slot or raise the setting")
		}
	case from.Engine == datastore.Postgres:
		for _, t := range tables {
			var ok bool
			err := from.DB.QueryRowContext(ctx, "SELECT has_table_privilege(quote_ident(current_schema()) || '.' || quote_ident($1), 'TRIGGER')", t).Scan(&ok)
			if err == nil && !ok {
				add("the user may not create triggers on table %s (GRANT TRIGGER)", t)
			}
		}
		var ok bool
		if err := from.DB.QueryRowContext(ctx, "SELECT has_schema_privilege(current_schema(), 'CREATE')").Scan(&ok); err == nil && !ok {
			add("the user may not create the changelog tables and functions in the current schema (GRANT CREATE ON SCHEMA)")
		}
	case from.Engine == datastore.MySQL:
		for _, t := range tables {
			if ok, err := from.HasPrivilege(ctx, "TRIGGER", t); err == nil && !ok {
				add("the user has no TRIGGER privilege on table %s (GRANT TRIGGER ON db.%s TO ...)", t, t)
			}
		}
		if err := from.CheckCreate(ctx); err != nil {
			add("the user cannot create the changelog tables: %v", err)
		}
		var logBin, trust int
		if err := from.DB.QueryRowContext(ctx, "SELECT @@log_bin, @@log_bin_trust_function_creators").Scan(&logBin, &trust); err == nil && logBin == 1 && trust == 0 {
			if super, err := from.HasPrivilege(ctx, "SUPER", ""); err == nil && !super {
				add("binary logging is on and log_bin_trust_function_creators is off: creating triggers needs SUPER, or SET GLOBAL log_bin_trust_function_creators = 1")
			}
		}
	default:
		if err := from.CheckCreate(ctx); err != nil {
			add("the database is not writable (the changelog tables and triggers live in it): %v", err)
		}
	}
	return problems
}
