package datastore

// ForceInsert makes WriteBatch take the multi-row INSERT path, as it does
// on a MySQL server with local_infile off (tests of the fallback).
func ForceInsert(s *Store) {
	s.bulk.mu.Lock()
	s.bulk.forceInsert = true
	s.bulk.mu.Unlock()
}

// Merges is how many decoded COPY batches were merged through a staging
// table rather than copied straight into the table.
func Merges(s *Store) int64 {
	s.bulk.mu.Lock()
	defer s.bulk.mu.Unlock()
	return s.bulk.merges
}
