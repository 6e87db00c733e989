package datastore

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The scanner follows a real binary COPY stream however its writes are
// cut (down to a byte at a time): it forwards every byte, counts the
// tuples, and keeps the last tuple's key, which decodes to the value the
// server holds. NULLs, empty strings and a wide text field do not throw
// the framing off.
func TestTupleScannerFollowsBinaryCopyInAnyChunking(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	require.NoError(t, err, "PostgreSQL must run for this test (CI starts it)")
	defer conn.Close(ctx)
	var raw bytes.Buffer
	_, err = conn.PgConn().CopyTo(ctx, &raw, `COPY (SELECT n::int, ('2000-01-01'::date + n * 400)::date AS d, NULLIF(repeat('x', n * 7), '') AS note,
		CASE WHEN n % 2 = 0 THEN NULL ELSE n END AS maybe
		FROM generate_series(-3, 40) n ORDER BY n) TO STDOUT (FORMAT binary)`)
	require.NoError(t, err)
	var text string
	require.NoError(t, conn.QueryRow(ctx, `SELECT ('2000-01-01'::date + 40 * 400)::text`).Scan(&text))
	lastDate, err := time.Parse("2006-01-02", text)
	require.NoError(t, err)
	key := &Table{Name: "x", PrimaryKey: []string{"d", "n"}, Columns: []Column{
		{Name: "n", Type: Type{Kind: KindInt}}, {Name: "d", Type: Type{Kind: KindDate}},
		{Name: "note", Type: Type{Kind: KindText}}, {Name: "maybe", Type: Type{Kind: KindInt}}}}

	for _, chunk := range []int{1, 2, 3, 5, 7, 64, raw.Len()} {
		var out bytes.Buffer
		s := newTupleScanner(&out, key.KeyIndexes())
		data := raw.Bytes()
		for len(data) > 0 {
			k := min(chunk, len(data))
			_, err := s.Write(data[:k])
			require.NoError(t, err, "chunk %d", chunk)
			data = data[k:]
		}
		require.True(t, s.complete(), "chunk %d: trailer seen", chunk)
		require.Equal(t, raw.Bytes(), out.Bytes(), "chunk %d: forwarded unchanged", chunk)
		require.EqualValues(t, 44, s.tuples, "chunk %d", chunk)
		last, err := s.lastKey(key)
		require.NoError(t, err)
		require.Equal(t, []any{lastDate, int64(40)}, last, "chunk %d", chunk)
	}

	var out bytes.Buffer
	s := newTupleScanner(&out, []int{0})
	_, err = s.Write([]byte("PGCOPY\n\xff\r\n\x01\x00\x00\x00\x00\x00\x00\x00\x00"))
	require.ErrorContains(t, err, "bad signature")
	require.Zero(t, out.Len(), "a malformed stream is not forwarded")
}

// BenchmarkTupleScanner is the scanner's cost per tuple as PostgreSQL
// sends them (one CopyData message, so one Write, a tuple): ten fields of
// the bench's mapped t.
func BenchmarkTupleScanner(b *testing.B) {
	tuple := []byte{0, 10}
	for _, n := range []int{8, 4, 12, 8, 1, 17, 40, 8, 4, 14} {
		tuple = append(tuple, 0, 0, 0, byte(n))
		tuple = append(tuple, bytes.Repeat([]byte{7}, n)...)
	}
	header := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	b.SetBytes(int64(len(tuple)))
	s := newTupleScanner(io.Discard, []int{0})
	if _, err := s.Write(header); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(tuple); err != nil {
			b.Fatal(err)
		}
	}
}
