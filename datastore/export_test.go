package datastore

import "context"

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

// Probes is how many empty-range probes the COPY paths ran.
func Probes(s *Store) int64 {
	s.bulk.mu.Lock()
	defer s.bulk.mu.Unlock()
	return s.bulk.probes
}

// LoadAllAsIfEmpty loads every row of src into dst as LoadDirect does
// when its probe found the key range empty, whatever the target holds
// (a writer that slipped keys in after the probe).
func LoadAllAsIfEmpty(s, to *Store, src, dst *Table) (DirectBatch, error) {
	sel, err := s.batchSelect(src, s.loadSelectList(src), nil, 1<<30, nil)
	if err != nil {
		return DirectBatch{}, err
	}
	return s.loadOrReplace(context.Background(), to, src, dst, "COPY ("+sel+") TO STDOUT", false)
}
