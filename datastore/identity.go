package datastore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-sql-driver/mysql"
)

// ErrSameDatabase is the error of a phase whose two stores are one
// database under two names: permanent, the spec must change.
var ErrSameDatabase = errors.New("the two stores are the same database")

// Identity says which database a store is, whatever DSN reached it: two
// store names whose DSNs differ (a host name and an address, two users)
// but reach the same database have equal identities. Copying, replicating
// or reconciling a database onto itself is then refused before it empties
// the source; leases are keyed by it.
type Identity struct {
	Engine Engine `json:"engine"`
	// Server identifies the server or file: PostgreSQL's
	// system_identifier, MySQL's @@server_uuid or MariaDB's @@server_uid,
	// SQLite's device and inode.
	Server string `json:"server"`
	// Database is the database's name (empty for SQLite).
	Database string `json:"database,omitempty"`
	// Schema is the PostgreSQL schema the store's tables live in.
	Schema string `json:"schema,omitempty"`
}

// String is the identity as one key: engine:server/database/schema.
func (i Identity) String() string {
	s := string(i.Engine) + ":" + i.Server
	if i.Database != "" || i.Schema != "" {
		s += "/" + i.Database
	}
	if i.Schema != "" {
		s += "/" + i.Schema
	}
	return s
}

// Identity asks the store which database it is.
func (s *Store) Identity(ctx context.Context) (Identity, error) {
	id := Identity{Engine: s.Engine}
	var err error
	switch s.Engine {
	case Postgres:
		err = s.postgresIdentity(ctx, &id)
	case MySQL:
		err = s.mysqlIdentity(ctx, &id)
	case SQLite:
		err = s.sqliteIdentity(ctx, &id)
	default:
		err = fmt.Errorf("%w: %q", ErrUnknownEngine, s.Engine)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("identify the database: %w", err)
	}
	return id, nil
}

func (s *Store) postgresIdentity(ctx context.Context, id *Identity) error {
	if err := s.DB.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&id.Database, &id.Schema); err != nil {
		return err
	}
	// pg_control_system() is readable by every role by default; where it
	// is not, the server's address is the next best thing.
	var sysid int64
	if err := s.DB.QueryRowContext(ctx, "SELECT system_identifier FROM pg_control_system()").Scan(&sysid); err == nil {
		id.Server = fmt.Sprint(sysid)
		return nil
	}
	var addr string
	err := s.DB.QueryRowContext(ctx, "SELECT coalesce(host(inet_server_addr()), 'socket') || ':' || coalesce(inet_server_port(), 0)").Scan(&addr)
	id.Server = "addr:" + addr
	return err
}

func (s *Store) mysqlIdentity(ctx context.Context, id *Identity) error {
	if err := s.DB.QueryRowContext(ctx, "SELECT coalesce(DATABASE(), '')").Scan(&id.Database); err != nil {
		return err
	}
	// MySQL has @@server_uuid; MariaDB (10.3+) has @@server_uid instead.
	err := s.DB.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&id.Server)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1193 { // unknown system variable
		err = s.DB.QueryRowContext(ctx, "SELECT @@server_uid").Scan(&id.Server)
	}
	if errors.As(err, &me) && me.Number == 1193 {
		err = s.DB.QueryRowContext(ctx, "SELECT concat('host:', @@hostname, ':', @@port)").Scan(&id.Server)
	}
	return err
}

func (s *Store) sqliteIdentity(ctx context.Context, id *Identity) error {
	var path string
	if err := s.DB.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		return err
	}
	if path == "" {
		// In memory: a database of its own, whatever its DSN.
		id.Server = fmt.Sprintf("memory:%p", s.DB)
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if key, ok := fileID(fi); ok {
		id.Server = key
		return nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	id.Server = "file:" + path
	return nil
}
