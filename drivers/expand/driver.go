package expand

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/schemachange"
	"github.com/godwit/godwit/suggest"
)

// Driver runs expand phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the expand driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.run, Compensate: d.compensate,
		Preflight: d.preflight, Ready: func(s *Spec) bool { return s.Stores != nil }, Errors: Errors})
	return d
}

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
		return nil, activities.ConfigError(err)
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

// run applies the change. It can be repeated: the store's record says
// what an earlier attempt did.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in := c.Spec, c.In
	st, change, err := open(ctx, c, false)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	defer st.Close()
	res, err := schemachange.Apply(ctx, st, change, c.Log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("expand in %s: %w", s.Store, withCleanup(err, in.Migration))
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
		err = forgetOthers(ctx, st, in.Migration, change.Name)
	}
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("expand in %s: %w", s.Store, err)
	}
	c.Log.Info("expanded", "statements", res.Statements, "already", res.Already, "triggers", res.Triggers)
	sum := fmt.Sprintf("applied %s of %s to %s", migration.Count(len(change.Up), "statement"), s.SQL.Path(), s.Store)
	switch {
	case res.OtherRun:
		sum = fmt.Sprintf("%s was already applied to %s by %s: it stays that run's, so this run's rollback leaves it in place", s.SQL.Path(), s.Store, earlierRun(res.OtherRunKey))
	case res.Already:
		sum = fmt.Sprintf("%s was already applied to %s by an earlier attempt", s.SQL.Path(), s.Store)
	}
	if len(res.Triggers) > 0 {
		sum += fmt.Sprintf("; dual-write on %s (triggers %s)", strings.Join(s.Tables(), ", "), strings.Join(res.Triggers, ", "))
	}
	// No Records: a schema change moves none, and its count of statements
	// (the triggers' included) read as rows beside the summary's count.
	return activities.PhaseResult{Summary: sum}, nil
}

// compensate undoes the change, as far as it was applied.
func (d *Driver) compensate(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	st, change, err := open(ctx, c, true)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	defer st.Close()
	res, err := schemachange.Rollback(ctx, st, change, c.Log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("expand: roll back in %s: %w", c.Spec.Store, err)
	}
	c.Log.Info("rolled back", "statements", res.Statements, "triggers_removed", res.Triggers, "skipped", len(res.Skipped), "other_run", res.OtherRun)
	if res.OtherRun {
		return activities.PhaseResult{Summary: othersLeft(c.Spec, c.In.Migration, res.OtherRunKey)}, nil
	}
	return activities.PhaseResult{Summary: rollbackSummary(c.Spec.Store, res)}, nil
}

// earlierRun names the run of this migration that a change's record is
// of ("" for a record from before records had a run), as provision names
// the run whose tables it finds.
func earlierRun(run string) string {
	if run == "" {
		return "an earlier run of this migration"
	}
	return "an earlier run of this migration (run " + run + ")"
}

// othersLeft is the summary of a rollback that found the change another
// run's, and left it.
func othersLeft(s *Spec, migrationName, run string) string {
	sum := fmt.Sprintf("left %s in %s as it is: %s applied it, not this run", s.SQL.Path(), s.Store, earlierRun(run))
	if len(s.Tables()) > 0 {
		sum += fmt.Sprintf(", and its dual-write triggers on %s stay too", strings.Join(s.Tables(), ", "))
	}
	undo := "undo it by hand"
	if path := s.Rollback.Path(); path != "" {
		undo = "run the rollback script " + path + " by hand"
	}
	return sum + fmt.Sprintf(" (to undo it, %s, then godwit cleanup %s)", undo, migrationName)
}

// withCleanup adds to a change another run left part way what forgets
// its record once it is undone.
func withCleanup(err error, migrationName string) error {
	var other *schemachange.OtherRunError
	if !errors.As(err, &other) {
		return err
	}
	return fmt.Errorf("%w: godwit cleanup %s forgets it (and removes the migration's dual-write triggers) while no run of the migration goes on; then start the migration again", err, migrationName)
}

// open opens the phase's store and reads its change; a rollback goes on
// without the rename rules a run needs.
func open(ctx context.Context, c *activities.Call[*Spec], rollback bool) (*datastore.Store, schemachange.Change, error) {
	s, in := c.Spec, c.In
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return nil, schemachange.Change{}, fmt.Errorf("expand: %w", err)
	}
	change, err := readChange(st.Engine, in, s, rollback)
	if err != nil {
		st.Close()
		return nil, schemachange.Change{}, err
	}
	return st, change, nil
}

func readChange(engine datastore.Engine, in activities.PhaseInput, s *Spec, rollback bool) (schemachange.Change, error) {
	up, err := ReadSource(engine, "sql", s.SQL)
	if err != nil {
		return schemachange.Change{}, err
	}
	down, err := ReadSource(engine, "rollback", s.Rollback)
	if err != nil {
		return schemachange.Change{}, err
	}
	if missing := renameProblems(engine, s); len(missing) > 0 && !rollback {
		return schemachange.Change{}, activities.ConfigError(errors.New(strings.Join(missing, "; ")))
	}
	return schemachange.Change{Name: RecordName(in.Migration, in.Phase.Name), Owner: in.Migration, Run: in.Run, Up: up, Down: down, DualWrite: s.Rules(),
		LockTimeout: s.LockTimeout.D(), Retries: s.Retries, RequireOnline: s.Online == OnlineRequire}, nil
}

func forgetOthers(ctx context.Context, st *datastore.Store, migration, keep string) error {
	return schemachange.ForgetExcept(ctx, st, RecordName(migration, ""), keep)
}

// statements says "1 statement", "2 statements".
func statements(n int) string { return migration.Count(n, "statement") }

func rollbackSummary(store string, res schemachange.Result) string {
	var parts []string
	if len(res.Triggers) > 0 {
		parts = append(parts, "removed dual-write triggers "+strings.Join(res.Triggers, ", "))
	}
	if res.Already {
		parts = append(parts, "nothing of the change was applied, so no rollback SQL ran")
	} else {
		parts = append(parts, fmt.Sprintf("ran the %s of the rollback SQL", statements(res.Statements)))
	}
	if len(res.Skipped) > 0 {
		var sk []string
		for _, s := range res.Skipped {
			sk = append(sk, s.String())
		}
		skipped := fmt.Sprintf("%d rollback statements found nothing to drop and were skipped", len(res.Skipped))
		if len(res.Skipped) == 1 {
			skipped = "1 rollback statement found nothing to drop and was skipped"
		}
		parts = append(parts, fmt.Sprintf("the change had been partly applied, so %s (%s)", skipped, strings.Join(sk, "; ")))
	}
	return strings.Join(parts, "; ") + " in " + store
}

// Errors are the kinds of error of a schema change: a statement the store
// refuses is a ConfigError (a retry runs it again), unless it is a lock
// timeout or a lost connection; then those of any store.
var Errors = append([]activities.ErrorKind{{Is: refused, Type: activities.ErrTypeConfig}, {Is: otherRuns, Type: activities.ErrTypeConfig}}, stores.Errors...)

// otherRuns is a change another run left part way: a retry finds it so
// again.
func otherRuns(err error) bool {
	var other *schemachange.OtherRunError
	return errors.As(err, &other)
}

func refused(err error) bool {
	var sqlErr *schemachange.StatementError
	return errors.As(err, &sqlErr) && sqlErr.Refused
}

// Preflight checks, changing nothing, that the store answers, both
// scripts can be read and split, and every dual-written table exists with
// the columns its rules read (or ones the change adds).
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
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
	problems = append(problems, ruleProblems(ctx, st, s, withEarlierScripts(st.Engine, spec, phase.Name, s.Store, scripts["sql"]))...)
	inPlace := false
	if len(problems) == 0 {
		var problem string
		inPlace, problem = recordProblem(ctx, st, spec, phase.Name, s, scripts["sql"])
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	// The dry run would only find the same mistakes again, in its words
	// (a table named twice), so it runs on what passed the checks above;
	// not on a change an earlier run applied, which the phase leaves as
	// it is (run again, its statements would find what they add there).
	if len(problems) == 0 && !inPlace {
		problems = append(problems, d.dryRun(ctx, spec, s, phase.Name, scripts["sql"], scripts["rollback"])...)
	}
	return problems
}

// ruleProblems checks every dual-written table and its rules against the
// live schema: the table exists, each column it sets is there or added by
// the change, and each rule reads a column of the row other than the one
// it sets, and the store parses it over the row (the columns the change
// adds read as NULL). The triggers are built (not created) for it, as the
// phase builds them: on MySQL/MariaDB, which has no dry run, this is the
// only check of the rules before the phase applies the expand; and no
// engine checks a trigger's body before it runs (PostgreSQL's dry run
// creates the function without running it), so a misspelt name in a rule
// would otherwise refuse every write to the table once the expand is in.
// A set column the table lacks must be named by the expand SQL (up; nil
// when it could not be read, which is reported apart): no engine checks
// a trigger's target column before the trigger fires either.
func ruleProblems(ctx context.Context, st *datastore.Store, s *Spec, up []datastore.ScriptStatement) []string {
	var problems []string
	for _, table := range s.Tables() {
		t, err := st.Introspect(ctx, table)
		if err != nil {
			problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s: no such table", s.Store, table))
			continue
		}
		rules := s.Rules()[table]
		var added []string
		missing := false
		for _, r := range rules {
			if t.Column(r.Column) != nil {
				continue
			}
			if !s.ProvidesColumn(s.Store, table, r.Column) {
				problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s.%s: no such column", s.Store, table, r.Column))
				missing = true
				continue
			}
			if up != nil && !scriptNames(up, r.Column) {
				problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s.%s: %s has no column %s, and the expand SQL (%s) does not add it%s: name in dualWrite the column the expand SQL adds",
					s.Store, table, r.Column, t.Name, r.Column, s.SQL.Path(), suggest.DidYouMean(r.Column, scriptWords(up, t.ColumnNames()))))
				missing = true
				continue
			}
			added = append(added, r.Column)
		}
		if missing {
			continue
		}
		if _, err := st.DualWriteSQL(t, append(t.ColumnNames(), added...), rules, ""); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: %v", s.Store, err))
			continue
		}
		// The triggers' bodies are checked by the engines only when they
		// run: a name the table does not have would refuse every write.
		for _, r := range rules {
			if err := st.CheckExpr(ctx, t, added, r.Expr, ""); err != nil {
				problems = append(problems, fmt.Sprintf("store %s: dualWrite.%s.%s: %q does not read as an expression over a row of %s: %v", s.Store, table, r.Column, r.Expr, t.Name, err))
			}
		}
	}
	return problems
}

// withEarlierScripts adds to up (nil: unreadable, left so) the expand SQL of
// the expand phases before phase on store: a column one of them adds may be
// dual-written by a later one whose own SQL does not name it. A script that
// cannot be read is left out (its phase reports it).
func withEarlierScripts(engine datastore.Engine, spec *config.Spec, phase, store string, up []datastore.ScriptStatement) []datastore.ScriptStatement {
	if up == nil {
		return nil
	}
	all := slices.Clone(up)
	for _, p := range spec.Phases {
		if p.Name == phase {
			break
		}
		if e, ok := p.Driver.(*Spec); ok && e.Store == store {
			if stmts, err := readSource(engine, "sql", e.SQL); err == nil {
				all = append(all, stmts...)
			}
		}
	}
	return all
}

// scriptNames says whether name occurs in the statements as a whole word
// (bare or quoted, any case): a column an expand adds is always written
// out in it. A name found only in a comment or a string passes: the check
// refuses only what the script cannot add.
func scriptNames(up []datastore.ScriptStatement, name string) bool {
	for _, st := range up {
		for _, w := range identifierWords(st.SQL) {
			if strings.EqualFold(w, name) {
				return true
			}
		}
	}
	return false
}

// scriptWords lists the identifier-like words of the statements that are
// not among columns: the names the script may add, for "did you mean".
func scriptWords(up []datastore.ScriptStatement, columns []string) []string {
	var out []string
	for _, st := range up {
		for _, w := range identifierWords(st.SQL) {
			if !slices.ContainsFunc(columns, func(c string) bool { return strings.EqualFold(c, w) }) {
				out = append(out, w)
			}
		}
	}
	return out
}

// identifierWords splits text into runs of letters, digits, '_' and '$'.
func identifierWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$')
	})
}

// recordProblem reads the store's record of the phase's change, as the
// phase will find it for this run (activities.RunOf): inPlace when an
// earlier run of the migration applied the same script whole (the phase
// takes it as in place, that run's), a problem when an earlier run left
// it part way (the phase refuses it).
func recordProblem(ctx context.Context, st *datastore.Store, spec *config.Spec, phase string, s *Spec, up []datastore.ScriptStatement) (inPlace bool, problem string) {
	c := schemachange.Change{Name: RecordName(spec.Name, phase), Run: activities.RunOf(ctx), Up: up}
	inPlace, _, err := schemachange.OtherRunsChange(ctx, st, c)
	if err != nil {
		return false, fmt.Sprintf("store %s: %v", s.Store, withCleanup(err, spec.Name))
	}
	return inPlace, ""
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
