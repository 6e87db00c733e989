package datastore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadSaysHowBusyTheStoreIs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, SQLite, filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.DB.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	got, err := s.Load(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^a single-file database, \d+\.\d MiB$`, got)

	for _, dsn := range []struct {
		engine Engine
		dsn    string
	}{{Postgres, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}, {MySQL, "root@tcp(127.0.0.1:3306)/mysql"}} {
		s, err := Open(ctx, dsn.engine, dsn.dsn)
		require.NoError(t, err, "%s must run for this test (CI starts it)", dsn.engine)
		got, err := s.Load(ctx)
		s.Close()
		require.NoError(t, err)
		require.Regexp(t, `^\d+ connections`, got, dsn.engine)
	}
}
