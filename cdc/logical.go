package cdc

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/godwit/godwit/datastore"
)

// statusEvery is how often the stream tells the server where it stands;
// the server drops a replication connection silent for wal_sender_timeout
// (60 s by default).
const statusEvery = 10 * time.Second

// WALLevel returns the PostgreSQL server's wal_level (logical replication
// needs "logical").
func WALLevel(ctx context.Context, s *datastore.Store) (string, error) {
	var level string
	if err := s.DB.QueryRowContext(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return "", fmt.Errorf("read wal_level: %w", err)
	}
	return level, nil
}

// setupLogical creates the publication, then the slot: pgoutput reads the
// publication through the catalog as of each change, so it must exist
// before the slot's first change. The slot's consistent point is where the
// stream starts; a backfill started after Setup sees everything before it.
func setupLogical(ctx context.Context, o Options) ([]string, error) {
	s := o.Source
	level, err := WALLevel(ctx, s)
	if err != nil {
		return nil, err
	}
	if level != "logical" {
		return nil, fmt.Errorf("%w: wal_level is %s, logical replication needs wal_level=logical (a server restart), or use method triggers", ErrNotSupported, level)
	}
	if err := CheckReplicaIdentity(ctx, s, o.Tables); err != nil {
		return nil, err
	}
	var created []string
	pub := publicationName(o.Name)
	var n int
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", pub).Scan(&n); err != nil {
		return nil, fmt.Errorf("look for publication %s: %w", pub, err)
	}
	if n == 0 {
		quoted := make([]string, len(o.Tables))
		for i, t := range o.Tables {
			quoted[i] = s.Quote(t)
		}
		if _, err := s.DB.ExecContext(ctx, "CREATE PUBLICATION "+s.Quote(pub)+" FOR TABLE "+strings.Join(quoted, ", ")); err != nil {
			return nil, fmt.Errorf("create publication %s: %w", pub, classifyPG(err))
		}
		created = append(created, "publication "+pub)
	}
	slot := slotName(o.Name)
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil {
		return created, fmt.Errorf("look for slot %s: %w", slot, err)
	}
	if n == 0 {
		var lsn string
		err := s.DB.QueryRowContext(ctx, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", slot).Scan(&lsn)
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "42710" {
			err = nil // created by a concurrent attempt
		}
		if err != nil {
			return created, fmt.Errorf("create replication slot %s: %w", slot, classifyPG(err))
		}
		created = append(created, "slot "+slot)
		o.logger().Info("replication slot created", "slot", slot, "consistent_point", lsn)
	}
	return created, nil
}

// classifyPG marks the errors a retry cannot fix as permanent: a missing
// privilege, and a server state a person must change (wal_level, the
// slot limit).
func classifyPG(err error) error {
	var pg *pgconn.PgError
	switch {
	case !errors.As(err, &pg):
	case pg.Code == "42501" || pg.Code == "28000" || pg.Code == "28P01":
		return fmt.Errorf("%w: %w", datastore.ErrAccessDenied, err)
	case pg.Code == "55000" || pg.Code == "53400":
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	return err
}

// teardownLogical drops the slot (ending a stream still holding it: a
// worker that died without closing) and the publication.
func teardownLogical(ctx context.Context, s *datastore.Store, capture string) ([]string, error) {
	var dropped []string
	slot := slotName(capture)
	var active sql.NullInt64
	err := s.DB.QueryRowContext(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return nil, fmt.Errorf("look for slot %s: %w", slot, err)
	default:
		if active.Valid {
			if _, err := s.DB.ExecContext(ctx, "SELECT pg_terminate_backend($1)", active.Int64); err != nil {
				return nil, fmt.Errorf("end the stream holding slot %s: %w", slot, err)
			}
		}
		if err := dropSlot(ctx, s, slot); err != nil {
			return nil, err
		}
		dropped = append(dropped, "slot "+slot)
	}
	pub := publicationName(capture)
	var n int
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", pub).Scan(&n); err != nil {
		return dropped, fmt.Errorf("look for publication %s: %w", pub, err)
	}
	if n > 0 {
		if _, err := s.DB.ExecContext(ctx, "DROP PUBLICATION IF EXISTS "+s.Quote(pub)); err != nil {
			return dropped, fmt.Errorf("drop publication %s: %w", pub, err)
		}
		dropped = append(dropped, "publication "+pub)
	}
	return dropped, nil
}

// dropSlot retries for a few seconds while a terminated stream lets go.
func dropSlot(ctx context.Context, s *datastore.Store, slot string) error {
	var err error
	for i := 0; i < 50; i++ {
		_, err = s.DB.ExecContext(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot)
		var pg *pgconn.PgError
		if err == nil || !errors.As(err, &pg) || pg.Code != "55006" { // object in use
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("drop replication slot %s: %w", slot, err)
	}
	return nil
}

// logicalReader streams a slot's changes.
type logicalReader struct {
	o      Options
	conn   *pgconn.PgConn
	tables map[string]*datastore.Table // source tables by name
	rels   map[uint32]*relation
	skip   pglogrepl.LSN // transactions ending at or before this were applied
	// open is the transaction being received; ready, those received whole.
	open      *txn
	ready     []txn
	nReady    int
	idle      pglogrepl.LSN // a position passed with nothing pending
	confirmed pglogrepl.LSN
	lastSent  time.Time
	// seen is the send time of the newest lag probe the stream brought
	// back: every change committed before it has been received.
	seen     time.Time
	started  time.Time
	probeTag string
}

type txn struct {
	end     pglogrepl.LSN
	commit  time.Time
	changes []tableChange
	// replicated: a Godwit stream applied it (its origin message came
	// first); it is not captured again.
	replicated bool
}

type tableChange struct {
	table string
	ch    change
}

type relation struct {
	table string // "" for a table not captured
	cols  []int  // position in the source table of each relation column
}

func openLogical(ctx context.Context, o Options, tables map[string]*datastore.Table, cp Checkpoint) (*logicalReader, error) {
	slot := slotName(o.Name)
	var confirmed sql.NullString
	var active sql.NullInt64
	err := o.Source.DB.QueryRowContext(ctx, "SELECT confirmed_flush_lsn::text, active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&confirmed, &active)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("%w: replication slot %s does not exist", ErrNotSetUp, slot)
	}
	if err != nil {
		return nil, fmt.Errorf("look for slot %s: %w", slot, err)
	}
	if err := checkPublished(ctx, o, tables); err != nil {
		return nil, err
	}
	r := &logicalReader{o: o, tables: tables, rels: map[uint32]*relation{}, probeTag: "godwit:" + o.Name}
	if confirmed.Valid {
		r.confirmed, _ = pglogrepl.ParseLSN(confirmed.String)
	}
	if cp.LSN != "" {
		if r.skip, err = pglogrepl.ParseLSN(cp.LSN); err != nil {
			return nil, fmt.Errorf("checkpoint: bad LSN %q: %w", cp.LSN, err)
		}
	}
	// Never report a position behind the slot's: PostgreSQL before 17
	// would move the slot back.
	r.confirmed = max(r.confirmed, r.skip)
	if err := datastore.CheckPostgresDSN(o.SourceDSN); err != nil {
		return nil, fmt.Errorf("the source DSN: %w", err)
	}
	cfg, err := pgconn.ParseConfig(o.SourceDSN)
	if err != nil {
		return nil, fmt.Errorf("%w: the source DSN is not a PostgreSQL URL or keyword string", datastore.ErrBadDSN)
	}
	cfg.RuntimeParams["replication"] = "database"
	// Values arrive as text: UTC makes timestamptz text unambiguous.
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["application_name"] = "godwit-cdc"
	conn, err := startStream(ctx, cfg, slot, r.skip, o.Name)
	if err != nil {
		return nil, err
	}
	r.conn = conn
	r.lastSent = time.Now()
	r.started = time.Now()
	return r, nil
}

// checkPublished makes sure every table is in the capture's publication:
// a table created after setup (matched by a pattern since) would be copied
// but never replicated.
func checkPublished(ctx context.Context, o Options, tables map[string]*datastore.Table) error {
	rows, err := o.Source.DB.QueryContext(ctx, "SELECT tablename FROM pg_publication_tables WHERE pubname = $1 AND schemaname = current_schema()", publicationName(o.Name))
	if err != nil {
		return fmt.Errorf("read publication %s: %w", publicationName(o.Name), err)
	}
	defer rows.Close()
	published := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		published[t] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for name := range tables {
		if !published[name] {
			return fmt.Errorf("%w: table %s is not in publication %s (created after setup?): its changes are not captured", ErrNotSetUp, name, publicationName(o.Name))
		}
	}
	return nil
}

// slotBusyWait is how long a stream waits for its slot to be let go: the
// server ends the previous stream (an earlier run, a retry) a moment after
// its connection closed.
const slotBusyWait = 15 * time.Second

// startStream opens a replication connection and starts streaming the
// slot, waiting while the slot is still held by a stream that is ending.
func startStream(ctx context.Context, cfg *pgconn.Config, slot string, from pglogrepl.LSN, capture string) (*pgconn.PgConn, error) {
	deadline := time.Now().Add(slotBusyWait)
	for {
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open replication connection: %w", classifyPG(err))
		}
		err = pglogrepl.StartReplication(ctx, conn, slot, from, pglogrepl.StartReplicationOptions{
			PluginArgs: []string{"proto_version '1'", "publication_names '" + publicationName(capture) + "'", "messages 'true'"},
		})
		if err == nil {
			return conn, nil
		}
		conn.Close(context.Background())
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "55006" || time.Now().After(deadline) {
			return nil, fmt.Errorf("start replication from slot %s: %w", slot, classifyPG(err))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *logicalReader) close() {
	if r.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.conn.Close(ctx)
	}
}

// next receives until it holds max changes of whole transactions or wait
// passes (a little longer once some are ready, so batches fill up).
func (r *logicalReader) next(ctx context.Context, maxChanges int, wait time.Duration) (batch, error) {
	deadline := time.Now().Add(wait)
	for r.nReady < maxChanges {
		if time.Since(r.lastSent) >= statusEvery {
			if err := r.sendStatus(false); err != nil {
				return batch{}, err
			}
		}
		d := deadline
		if r.nReady > 0 {
			d = minTime(d, time.Now().Add(20*time.Millisecond))
		}
		if !time.Now().Before(d) {
			break
		}
		if err := ctx.Err(); err != nil {
			return batch{}, err
		}
		// A read deadline on the socket rather than a context per message:
		// pgconn watches a context with a goroutine of its own, which costs
		// more than the message. A cancellation is seen within wait.
		if err := r.conn.Conn().SetReadDeadline(d); err != nil {
			return batch{}, fmt.Errorf("replication stream: %w", err)
		}
		msg, err := r.conn.ReceiveMessage(context.Background())
		if err != nil {
			if pgconn.Timeout(err) {
				break
			}
			return batch{}, fmt.Errorf("replication stream: %w", err)
		}
		if err := r.handle(msg); err != nil {
			return batch{}, err
		}
	}
	b := batch{}
	end := r.idle
	for _, t := range r.ready {
		for _, c := range t.changes {
			b.add(c.table, r.tables[c.table].KeyIndexes(), c.ch)
		}
		end = max(end, t.end)
	}
	r.ready, r.nReady = nil, 0
	if end > r.confirmed {
		b.position = end.String()
		b.lsn = end
	}
	return b, nil
}

func (r *logicalReader) handle(msg pgproto3.BackendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.ErrorResponse:
		return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
	case *pgproto3.CopyData:
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return fmt.Errorf("replication stream: %w", err)
			}
			if r.open == nil && len(r.ready) == 0 {
				r.idle = max(r.idle, ka.ServerWALEnd)
			}
			if ka.ReplyRequested {
				return r.sendStatus(false)
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return fmt.Errorf("replication stream: %w", err)
			}
			return r.decode(x.WALData)
		}
	}
	return nil
}

func (r *logicalReader) decode(data []byte) error {
	lm, err := pglogrepl.Parse(data)
	if err != nil {
		return fmt.Errorf("decode change: %w", err)
	}
	switch m := lm.(type) {
	case *pglogrepl.RelationMessage:
		return r.relation(m)
	case *pglogrepl.BeginMessage:
		r.open = &txn{commit: m.CommitTime}
	case *pglogrepl.CommitMessage:
		if r.open == nil {
			return nil
		}
		t := *r.open
		r.open = nil
		t.end = m.TransactionEndLSN
		if t.end <= r.skip || len(t.changes) == 0 || t.replicated {
			// Applied before the restart, nothing of ours, or written by
			// a replication stream (origin.go): only the position moves.
			r.idle = max(r.idle, t.end)
			return nil
		}
		r.ready = append(r.ready, t)
		r.nReady += len(t.changes)
	case *pglogrepl.LogicalDecodingMessage:
		if m.Prefix == originMessage && m.Transactional && r.open != nil {
			r.open.replicated = true
			return nil
		}
		if m.Prefix == r.probeTag && !m.Transactional {
			r.probeSeen(string(m.Content))
			if r.open == nil {
				r.idle = max(r.idle, m.LSN)
			}
		}
	case *pglogrepl.InsertMessage:
		return r.row(m.RelationID, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return r.row(m.RelationID, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return r.row(m.RelationID, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if rel := r.rels[id]; rel != nil && rel.table != "" && r.open != nil {
				r.open.changes = append(r.open.changes, tableChange{table: rel.table, ch: change{truncate: true}})
			}
		}
	}
	return nil
}

// relation maps a relation's columns onto the source table read at the
// start; a column added, dropped or renamed since is schema drift.
func (r *logicalReader) relation(m *pglogrepl.RelationMessage) error {
	t := r.tables[m.RelationName]
	if t == nil {
		r.rels[m.RelationID] = &relation{}
		return nil
	}
	if err := checkIdentity(t.Name, m.ReplicaIdentity); err != nil {
		return err
	}
	rel := &relation{table: m.RelationName}
	seen := 0
	for _, c := range m.Columns {
		i := columnIndex(t, c.Name)
		if i < 0 {
			return fmt.Errorf("table %s: %w: the stream has column %s, which the source table no longer has", t.Name, ErrSchemaDrift, c.Name)
		}
		rel.cols = append(rel.cols, i)
		seen++
	}
	if seen != len(t.Columns) {
		return fmt.Errorf("table %s: %w: the stream has %d columns, the table %d", t.Name, ErrSchemaDrift, seen, len(t.Columns))
	}
	r.rels[m.RelationID] = rel
	return nil
}

// checkIdentity refuses a table whose REPLICA IDENTITY (pg_class.
// relreplident) does not make the stream carry the primary key of every
// row updated or deleted: the reader deletes a row, and notices a key
// change, by the old tuple's primary key columns. DEFAULT (the primary
// key, which every captured table has) and FULL do; NOTHING fails the
// source's own updates and deletes once the table is published, and USING
// INDEX carries another index's columns (the primary key's are NULL).
func checkIdentity(table string, identity byte) error {
	switch identity {
	case 'd', 'f':
		return nil
	}
	what := map[byte]string{'n': "NOTHING", 'i': "USING INDEX"}[identity]
	if what == "" {
		what = fmt.Sprintf("%q", identity)
	}
	return fmt.Errorf("%w: table %s has REPLICA IDENTITY %s: logical replication needs the primary key in each change (ALTER TABLE %s REPLICA IDENTITY DEFAULT), or use method triggers", ErrNotSupported, table, what, table)
}

// CheckReplicaIdentity checks the REPLICA IDENTITY of a PostgreSQL
// source's tables for the logical method (setup and preflight), so that a
// table the stream cannot follow is refused before the backfill rather
// than at its first change.
func CheckReplicaIdentity(ctx context.Context, s *datastore.Store, tables []string) error {
	for _, t := range tables {
		var id string
		err := s.DB.QueryRowContext(ctx, "SELECT relreplident::text FROM pg_class WHERE oid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1))", t).Scan(&id)
		if err == sql.ErrNoRows {
			continue // Introspect names the missing table
		}
		if err != nil {
			return fmt.Errorf("read the replica identity of %s: %w", t, err)
		}
		if id != "" {
			if err := checkIdentity(t, id[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

func columnIndex(t *datastore.Table, name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// row turns an insert (old nil), update or delete (new nil) into changes:
// an update that moved the row to another key deletes the old key first.
func (r *logicalReader) row(relID uint32, oldT, newT *pglogrepl.TupleData) error {
	rel := r.rels[relID]
	if rel == nil {
		return fmt.Errorf("replication stream: change for relation %d before its description", relID)
	}
	if rel.table == "" || r.open == nil {
		return nil
	}
	t := r.tables[rel.table]
	var oldRow, newRow []any
	var newSet []bool
	var err error
	if oldT != nil {
		if oldRow, _, err = r.tuple(t, rel, oldT); err != nil {
			return err
		}
	}
	if newT != nil {
		if newRow, newSet, err = r.tuple(t, rel, newT); err != nil {
			return err
		}
	}
	emit := func(c change) { r.open.changes = append(r.open.changes, tableChange{table: rel.table, ch: c}) }
	keyChange := oldRow != nil && newRow != nil && !sameKey(t, oldRow, newRow)
	if _, mapped := r.o.Mapped[rel.table]; mapped {
		// The stream carries the source row, not the mapping's: each key
		// touched is read back through the mapping (readBack), as the
		// trigger drain reads it.
		if oldRow != nil && (newRow == nil || keyChange) {
			emit(change{lookup: true, row: oldRow})
		}
		if newRow != nil {
			emit(change{lookup: true, row: newRow})
		}
		return nil
	}
	switch {
	case newRow == nil:
		emit(change{delete: true, row: oldRow})
	case keyChange:
		emit(change{delete: true, row: oldRow})
		if newSet != nil {
			// An unchanged TOASTed value is left out of the new tuple, and
			// the target has no row under the new key to complete: the
			// source's row is read back.
			emit(change{lookup: true, row: newRow})
		} else {
			emit(change{row: newRow})
		}
	default:
		emit(change{row: newRow, set: newSet})
	}
	return nil
}

// tuple decodes a tuple's text values into a row in the source table's
// column order; set is nil when every column came (else it marks those
// that did: an unchanged TOASTed value is not sent).
func (r *logicalReader) tuple(t *datastore.Table, rel *relation, td *pglogrepl.TupleData) ([]any, []bool, error) {
	row := make([]any, len(t.Columns))
	set := make([]bool, len(t.Columns))
	all := true
	for i, col := range td.Columns {
		if i >= len(rel.cols) {
			return nil, nil, fmt.Errorf("table %s: %w: the change has more columns than the table", t.Name, ErrSchemaDrift)
		}
		ci := rel.cols[i]
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			set[ci] = true
		case pglogrepl.TupleDataTypeToast:
			all = false
		default:
			v, err := decodeText(t.Columns[ci].Type, col.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("table %s column %s: %w", t.Name, t.Columns[ci].Name, err)
			}
			row[ci], set[ci] = v, true
		}
	}
	if all {
		set = nil
	}
	return row, set, nil
}

// decodeText reads a value in PostgreSQL's text output format.
func decodeText(t datastore.Type, b []byte) (any, error) {
	if t.Kind == datastore.KindBytes {
		s := string(b)
		if !strings.HasPrefix(s, `\x`) {
			return nil, fmt.Errorf("%w: bytea %.20q is not in hex format", datastore.ErrBadValue, s)
		}
		out, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, fmt.Errorf("%w: bytea: %v", datastore.ErrBadValue, err)
		}
		return out, nil
	}
	return datastore.Canonical(t, string(b))
}

func sameKey(t *datastore.Table, a, b []any) bool {
	for _, i := range t.KeyIndexes() {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func (r *logicalReader) confirm(_ context.Context, b batch) error {
	if b.lsn > r.confirmed {
		r.confirmed = b.lsn
		return r.sendStatus(false)
	}
	return nil
}

func (r *logicalReader) sendStatus(reply bool) error {
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), r.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: r.confirmed, ReplyRequested: reply,
	})
	if err != nil {
		return fmt.Errorf("replication stream: send status: %w", err)
	}
	r.lastSent = time.Now()
	return nil
}

// lag measures, then sends a probe: a non-transactional logical message
// carrying its send time. Once the stream brings it back (and what came
// before it is applied), every change committed before that time is on
// the target.
//
// The source's position is the WAL insert position, not the write
// position (pg_current_wal_lsn): with synchronous_commit off a commit
// returns once its record is inserted, and the WAL writer writes it up to
// wal_writer_delay later. Until then the stream cannot have it, and a
// stream idle at the write position would look caught up with a committed
// transaction still to come (Drained true a row short).
func (r *logicalReader) lag(ctx context.Context, now time.Time) (Lag, error) {
	var current string
	err := r.o.Source.DB.QueryRowContext(ctx, "SELECT pg_current_wal_insert_lsn()::text, pg_logical_emit_message(false, $1, $2)::text",
		r.probeTag, strconv.FormatInt(now.UnixNano(), 10)).Scan(&current, new(string))
	if err != nil {
		return Lag{Measured: now}, fmt.Errorf("measure lag: %w", classifyPG(err))
	}
	cur, err := pglogrepl.ParseLSN(current)
	if err != nil {
		return Lag{Measured: now}, fmt.Errorf("measure lag: bad WAL position %q: %w", current, err)
	}
	return logicalLag(now, r.started, r.seen, r.ready, r.open, max(r.confirmed, r.idle), cur), nil
}

// logicalLag computes a logical stream's lag at now from what it holds:
// seen (the send time of the newest probe back), the transactions ready
// or open (received, not yet applied), passed (the WAL position up to
// which nothing is pending) and current (the source's WAL position, read
// at now).
//
// When nothing is pending and the stream has passed every WAL byte
// written by now, nothing is behind: the lag is 0, through now. Otherwise
// the probe bounds it: a probe goes out at each measurement, so an idle
// stream that judged by the probe alone would read the probe interval
// (1 s and a little more) for ever, and a maxLag of 1s would never hold.
// Under writes the probe bound stays, so a logical capture cannot judge a
// limit under its probe interval (LagFloor).
func logicalLag(now, started, seen time.Time, ready []txn, open *txn, passed, current pglogrepl.LSN) Lag {
	l := Lag{Measured: now, Through: seen}
	for _, t := range ready {
		l.Changes += int64(len(t.changes))
		if !l.Through.IsZero() && t.commit.Before(l.Through) {
			l.Through = t.commit
		}
	}
	if open != nil {
		l.Changes += int64(len(open.changes))
	}
	if current > passed {
		l.Bytes = int64(current - passed)
	}
	pending := len(ready) > 0 || open != nil
	switch {
	case !pending && l.Bytes == 0:
		l.Through = now
	case l.Through.IsZero():
		l.Seconds = now.Sub(started).Seconds()
	default:
		l.Seconds = max(now.Sub(l.Through).Seconds(), 0)
	}
	return l
}

// probeSeen records the send time of a probe that came back.
func (r *logicalReader) probeSeen(content string) {
	ns, err := strconv.ParseInt(content, 10, 64)
	if err != nil {
		return
	}
	if at := time.Unix(0, ns); at.After(r.seen) {
		r.seen = at
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
