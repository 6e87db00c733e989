package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
)

// storeFlags name a live database: a store of a spec, or an engine and the
// environment variable holding its DSN.
type storeFlags struct {
	store, spec, engine, dsnEnv string
}

// cliStore is the name a database given by --engine and --dsn-env has.
const cliStore = "database"

// resolve returns the stores to open and the name of the one meant.
func (f storeFlags) resolve() (map[string]config.StoreSpec, string, error) {
	switch {
	case f.store != "" && f.engine != "":
		return nil, "", errors.New("give either --store (with -f SPEC) or --engine with --dsn-env, not both")
	case f.store != "":
		if f.spec == "" {
			return nil, "", fmt.Errorf("--store %s needs -f SPEC: the spec whose stores: name it", f.store)
		}
		return specStores(f.spec, f.store)
	case f.engine != "":
		if f.dsnEnv == "" {
			return nil, "", errors.New("--engine needs --dsn-env VAR: the environment variable that holds the DSN (never the DSN itself, which holds a password)")
		}
		if !contains(config.StoreEngines, f.engine) {
			return nil, "", fmt.Errorf("--engine %q: use one of %s", f.engine, strings.Join(config.StoreEngines, ", "))
		}
		return map[string]config.StoreSpec{cliStore: {Engine: f.engine, DSN: config.SecretRef{FromEnv: f.dsnEnv}}}, cliStore, nil
	}
	return nil, "", errors.New("name the database: --store NAME -f SPEC, or --engine ENGINE --dsn-env VAR")
}

// specStores loads the spec and checks that it has the store.
func specStores(path, store string) (map[string]config.StoreSpec, string, error) {
	spec, err := config.LoadSpec(path)
	if err != nil {
		return nil, "", err
	}
	if _, ok := spec.Stores[store]; !ok {
		return nil, "", fmt.Errorf("%s has no store %q (it has %s)", path, store, orNone(stores.Names(spec)))
	}
	return spec.Stores, store, nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *app) schemaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Describe a live database's schema",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.schemaExportCommand())
	return cmd
}

func (a *app) schemaExportCommand() *cobra.Command {
	var f storeFlags
	var out, version string
	var tables []string
	cmd := &cobra.Command{
		Use:   "export (--store NAME -f SPEC | --engine ENGINE --dsn-env VAR) [-o schema.json]",
		Short: "Write the schema description of a live PostgreSQL, MySQL/MariaDB or SQLite database",
		Long: `Write the schema description (JSON, the format check-compat reads) of a
live database: its tables with their columns (type, nullability, default,
auto-increment), primary key, unique constraints (unique indexes too: the
engines name them differently), indexes and foreign keys; its views and,
on PostgreSQL and MySQL/MariaDB, its procedures and functions; on
PostgreSQL its check constraints.

The database is a store of a Godwit spec (--store NAME -f SPEC), or an
engine and the environment variable holding its DSN (--engine postgres
--dsn-env ORDERS_DSN). The DSN is read here and never printed.

Compare the result with a file, or compare a file with a database at once:
  godwit check-compat --before old.json --after-store new -f migration.yaml`,
		Example: `  godwit schema export --store legacy -f migration.yaml -o legacy_schema.json
  godwit schema export --engine postgres --dsn-env ORDERS_DSN --tables 'orders*' -o orders.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, name, err := f.resolve()
			if err != nil {
				return err
			}
			db, err := stores.Open(cmd.Context(), st, name)
			if err != nil {
				return err
			}
			defer db.Close()
			schema, notes, err := compat.ExportSchema(cmd.Context(), db, compat.ExportOptions{Tables: tables, SchemaVersion: version})
			if err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
			for _, n := range notes {
				fmt.Fprintln(a.errOut, "note: "+n)
			}
			if err := writeJSON(a, out, schema); err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(a.errOut, "wrote %s: %s, %s, %s\n", out, migration.Count(len(schema.Tables), "table"), migration.Count(len(schema.Views), "view"), migration.Count(len(schema.Procedures), "procedure"))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.store, "store", "", "a store of the spec given with -f")
	fl.StringVarP(&f.spec, "file", "f", "", "the Godwit spec whose stores: has --store")
	fl.StringVar(&f.engine, "engine", "", "the database's engine: postgres, mysql or sqlite (with --dsn-env)")
	fl.StringVar(&f.dsnEnv, "dsn-env", "", "the environment variable holding the DSN (with --engine)")
	fl.StringSliceVar(&tables, "tables", nil, "only these tables (names or glob patterns, comma-separated)")
	fl.StringVar(&version, "schema-version", "", "written as the description's schema_version")
	fl.StringVarP(&out, "output", "o", "", "write the description to this file (default: stdout)")
	return cmd
}
