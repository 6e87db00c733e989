package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
)

// Load describes how busy the database is, in words for a status report:
// connections and, where the engine tells, replication lag. It reads only
// what an unprivileged user may see; a figure it cannot read is left out.
func (s *Store) Load(ctx context.Context) (string, error) {
	switch s.Engine {
	case Postgres:
		var conns int
		if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&conns); err != nil {
			return "", fmt.Errorf("postgres load: %w", err)
		}
		text := fmt.Sprintf("%d connections", conns)
		var lag sql.NullFloat64
		// NULL on a primary: only a standby replays.
		if err := s.DB.QueryRowContext(ctx, `SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())`).Scan(&lag); err == nil && lag.Valid {
			text += fmt.Sprintf(", replication lag %.1fs", lag.Float64)
		}
		return text, nil
	case MySQL:
		var name string
		var conns, running int
		if err := s.DB.QueryRowContext(ctx, `SHOW GLOBAL STATUS LIKE 'Threads_connected'`).Scan(&name, &conns); err != nil {
			return "", fmt.Errorf("mysql load: %w", err)
		}
		text := fmt.Sprintf("%d connections", conns)
		if err := s.DB.QueryRowContext(ctx, `SHOW GLOBAL STATUS LIKE 'Threads_running'`).Scan(&name, &running); err == nil {
			text += fmt.Sprintf(" (%d running)", running)
		}
		return text, nil
	case SQLite:
		var file string
		rows, err := s.DB.QueryContext(ctx, `PRAGMA database_list`)
		if err != nil {
			return "", fmt.Errorf("sqlite load: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var seq int
			var dbName string
			if err := rows.Scan(&seq, &dbName, &file); err == nil && dbName == "main" {
				break
			}
		}
		if st, err := os.Stat(file); err == nil {
			return fmt.Sprintf("a single-file database, %.1f MiB", float64(st.Size())/(1<<20)), nil
		}
		return "a single-file database", nil
	}
	return "", fmt.Errorf("load: %w: %q", ErrUnknownEngine, s.Engine)
}
