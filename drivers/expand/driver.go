package expand

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/schemachange"
)

// Driver runs expand phases.
type Driver struct {
	Logger hclog.Logger
}

// New returns the expand driver.
func New(logger hclog.Logger) *Driver { return &Driver{Logger: logger} }

// RecordName is the name a phase's change is recorded under in the store.
func RecordName(migration, phase string) string { return migration + "/" + phase }

// ReadSource reads a script for the store's engine, as a non-retryable
// error when the file is missing or outside the files directory.
func ReadSource(engine datastore.Engine, field string, src *Source) ([]datastore.ScriptStatement, error) {
	return nonRetryable(readSource(engine, field, src))
}

// ReadContract reads a contract's script: a file's statements, or a
// report's contract SQL (the old names of the columns it renames).
func ReadContract(engine datastore.Engine, src *Source) ([]datastore.ScriptStatement, error) {
	return nonRetryable(ContractScript(engine, src))
}

// ContractScript is ReadContract with a plain error, for preflight.
func ContractScript(engine datastore.Engine, src *Source) ([]datastore.ScriptStatement, error) {
	if src == nil || src.FromReport == "" {
		return readSource(engine, "sql", src)
	}
	rep, err := ReadReport(engine, "sql.fromReport", src.FromReport)
	if err != nil {
		return nil, err
	}
	if len(rep.Contract) == 0 {
		return nil, fmt.Errorf("sql.fromReport %s renames no column, so it holds nothing to contract: write the contract SQL into a file and name it with fromFile", src.FromReport)
	}
	return rep.Contract, nil
}

func nonRetryable(stmts []datastore.ScriptStatement, err error) ([]datastore.ScriptStatement, error) {
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	return stmts, nil
}

// readSource reads a file's statements, or a report's: its forward SQL
// for sql, its rollback SQL for rollback.
func readSource(engine datastore.Engine, field string, src *Source) ([]datastore.ScriptStatement, error) {
	switch {
	case src == nil:
		return nil, nil
	case src.FromReport != "":
		rep, err := ReadReport(engine, field+".fromReport", src.FromReport)
		if err != nil {
			return nil, err
		}
		if field == "rollback" {
			return rep.Down, nil
		}
		return rep.Up, nil
	case src.FromFile != "":
		return schemachange.ReadScript(engine, field+".fromFile", src.FromFile)
	}
	return nil, nil
}

// renameProblems reads the report the expand's SQL comes from, if it does,
// and lists the dual-write rules its renames need and the spec lacks.
func renameProblems(engine datastore.Engine, s *Spec) []string {
	if s.SQL == nil || s.SQL.FromReport == "" {
		return nil
	}
	rep, err := ReadReport(engine, "sql.fromReport", s.SQL.FromReport)
	if err != nil {
		return nil // reported where the SQL is read
	}
	return s.RenameRulesMissing(rep.Renames)
}

// Do applies the change (run) or undoes it (compensate). Both can be
// repeated: the store's record says what an earlier attempt did.
func (d *Driver) Do(ctx context.Context, action activities.Action, in activities.PhaseInput, _ activities.Heartbeat, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	s, ok := in.Phase.Driver.(*Spec)
	if !ok || s.Stores == nil {
		err := fmt.Errorf("phase %s: expand section missing or its store not resolved (load the spec with config.ParseSpec)", in.Phase.Name)
		return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	log := d.Logger.With("migration", in.Migration, "phase", in.Phase.Name)
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return activities.PhaseResult{}, stores.Classify("expand", err)
	}
	defer st.Close()
	up, err := ReadSource(st.Engine, "sql", s.SQL)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	down, err := ReadSource(st.Engine, "rollback", s.Rollback)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	if missing := renameProblems(st.Engine, s); len(missing) > 0 && action != activities.ActionCompensate {
		err := errors.New(strings.Join(missing, "; "))
		return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	// A long ALTER or a lock wait reports no progress: keep the activity alive.
	ka := activities.StartKeepAlive(beat, activities.KeepAliveEvery(in.Phase.HeartbeatTimeout.D()))
	defer ka.Stop()
	name := RecordName(in.Migration, in.Phase.Name)
	change := schemachange.Change{Name: name, Owner: in.Migration, Up: up, Down: down, DualWrite: s.Rules(),
		LockTimeout: s.LockTimeout.D(), Retries: s.Retries, RequireOnline: s.Online == OnlineRequire}
	if action == activities.ActionCompensate {
		res, err := schemachange.Rollback(ctx, st, change, log)
		if err != nil {
			return activities.PhaseResult{}, Classify("expand: roll back in "+s.Store, err)
		}
		log.Info("rolled back", "statements", res.Statements, "triggers_removed", res.Triggers, "skipped", len(res.Skipped))
		return activities.PhaseResult{Records: int64(res.Statements), Summary: rollbackSummary(s.Store, res)}, nil
	}
	res, err := schemachange.Apply(ctx, st, change, log)
	if err != nil {
		return activities.PhaseResult{}, Classify("expand in "+s.Store, err)
	}
	// The records an earlier run of this migration left for the phases
	// after this one (a completed run's contract's) must not make them
	// skip. Only later phases' go: an earlier expand of this run keeps its
	// record, which its compensation needs.
	switch {
	case s.Later != nil:
		err = ForgetLater(ctx, st, in.Migration, s.Later)
	case !res.Already:
		// A phase of a run started before Later existed: the old rule.
		err = forgetOthers(ctx, st, in.Migration, name)
	}
	if err != nil {
		return activities.PhaseResult{}, Classify("expand in "+s.Store, err)
	}
	log.Info("expanded", "statements", res.Statements, "already", res.Already, "triggers", res.Triggers)
	sum := fmt.Sprintf("applied %d statements of %s to %s", len(up), s.SQL.Path(), s.Store)
	if res.Already {
		sum = fmt.Sprintf("%s was already applied to %s by an earlier attempt", s.SQL.Path(), s.Store)
	}
	if len(res.Triggers) > 0 {
		sum += fmt.Sprintf("; dual-write on %s (triggers %s)", strings.Join(s.Tables(), ", "), strings.Join(res.Triggers, ", "))
	}
	return activities.PhaseResult{Records: int64(res.Statements), Summary: sum}, nil
}

func forgetOthers(ctx context.Context, st *datastore.Store, migration, keep string) error {
	return schemachange.ForgetExcept(ctx, st, RecordName(migration, ""), keep)
}

func rollbackSummary(store string, res schemachange.Result) string {
	var parts []string
	if len(res.Triggers) > 0 {
		parts = append(parts, "removed dual-write triggers "+strings.Join(res.Triggers, ", "))
	}
	if res.Already {
		parts = append(parts, "nothing of the change was applied, so no rollback SQL ran")
	} else {
		parts = append(parts, fmt.Sprintf("ran the %d statements of the rollback SQL", res.Statements))
	}
	if len(res.Skipped) > 0 {
		var sk []string
		for _, s := range res.Skipped {
			sk = append(sk, s.String())
		}
		parts = append(parts, fmt.Sprintf("the change had been partly applied, so %d rollback statements found nothing to drop and were skipped (%s)",
			len(res.Skipped), strings.Join(sk, "; ")))
	}
	return strings.Join(parts, "; ") + " in " + store
}

// Classify makes a script's failure (a statement the store refuses)
// non-retryable, unless it is a lock timeout or a lost connection.
func Classify(what string, err error) error {
	var sqlErr *schemachange.StatementError
	if errors.As(err, &sqlErr) && sqlErr.Refused {
		msg := fmt.Sprintf("%s: %v", what, err)
		return temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeConfig, err)
	}
	return stores.Classify(what, err)
}

// Preflight checks, changing nothing, that the store answers, both
// scripts can be read and split, and every dual-written table exists with
// the columns its rules read (or ones the change adds).
func (d *Driver) Preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec) []string {
	s, ok := phase.Driver.(*Spec)
	if !ok {
		return []string{"has no expand section"}
	}
	st, err := stores.OpenReadOnly(ctx, spec.Stores, s.Store)
	if err != nil {
		return []string{stores.Unreachable(s.Store, spec.Stores, err)}
	}
	defer st.Close()
	var problems []string
	scripts := map[string][]datastore.ScriptStatement{}
	for _, f := range []struct {
		field string
		src   *Source
	}{{"sql", s.SQL}, {"rollback", s.Rollback}} {
		stmts, err := readSource(st.Engine, f.field, f.src)
		if err != nil {
			problems = append(problems, err.Error())
		}
		scripts[f.field] = stmts
	}
	if len(problems) == 0 {
		problems = append(problems, renameProblems(st.Engine, s)...)
	}
	if len(problems) == 0 {
		problems = append(problems, d.dryRun(ctx, spec, s, phase.Name, scripts["sql"], scripts["rollback"])...)
	}
	for _, table := range s.Tables() {
		t, err := st.Introspect(ctx, table)
		if err != nil {
			problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s: no such table", s.Store, table))
			continue
		}
		for _, r := range s.Rules()[table] {
			if t.Column(r.Column) == nil && !s.ProvidesColumn(s.Store, table, r.Column) {
				problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s.%s: no such column", s.Store, table, r.Column))
			}
		}
	}
	return problems
}

// dryRun runs the expand, its triggers and its rollback in a transaction
// that is rolled back, where the engine's DDL is transactional (on SQLite
// on a writable connection to the file the read-only one found).
func (d *Driver) dryRun(ctx context.Context, spec *config.Spec, s *Spec, phase string, up, down []datastore.ScriptStatement) []string {
	if spec.Stores[s.Store].Engine == "" {
		return nil
	}
	if e, err := datastore.ParseEngine(spec.Stores[s.Store].Engine); err != nil || !e.TransactionalDDL() {
		return nil
	}
	st, err := stores.Open(ctx, spec.Stores, s.Store)
	if err != nil {
		return []string{stores.Unreachable(s.Store, spec.Stores, err)}
	}
	defer st.Close()
	c := schemachange.Change{Name: RecordName(spec.Name, phase), Owner: spec.Name, Up: up, Down: down, DualWrite: s.Rules(), LockTimeout: s.LockTimeout.D()}
	if _, err := schemachange.DryRun(ctx, st, c); err != nil {
		return []string{fmt.Sprintf("store %s: %v", s.Store, err)}
	}
	return nil
}
