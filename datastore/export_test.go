package datastore

// ForceInsert makes WriteBatch take the multi-row INSERT path, as it does
// on a MySQL server with local_infile off (tests of the fallback).
func ForceInsert(s *Store) {
	s.bulk.mu.Lock()
	s.bulk.forceInsert = true
	s.bulk.mu.Unlock()
}
