package config

import (
	"fmt"
	"io"
	"os"
	"reflect"
)

// MaxSpecBytes is the largest spec Godwit reads. The spec is the
// workflow's input, stored in its history with every continue-as-new:
// Temporal refuses payloads of a few MiB (a raw gRPC ResourceExhausted at
// start), and a spec this large is a mistake (a generated table list, a
// wrong file) long before that.
const MaxSpecBytes = 1 << 20

// readSpecFile reads the spec at path, at most MaxSpecBytes + 1 bytes of
// it, so a wrong path (/dev/zero, a dump) fails at once instead of filling
// the memory.
func readSpecFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec %s: %w", path, err)
	}
	if len(data) > MaxSpecBytes {
		size := fmt.Sprintf("more than %d bytes", MaxSpecBytes)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = fmt.Sprintf("%d bytes (%.1f MiB)", st.Size(), float64(st.Size())/(1<<20))
		}
		return nil, fmt.Errorf("spec %s is not valid:\n%w", path, FieldErrors{tooLarge(size)})
	}
	return data, nil
}

func tooLarge(size string) FieldError {
	return FieldError{Message: fmt.Sprintf("the spec is %s, over the limit of %d bytes (1 MiB): "+
		"it travels in the workflow's history, where Temporal refuses inputs this large; "+
		"keep bulky content (DDL, long table lists) in files the worker reads (provision's ddl: {fromFile: ...}, tables: [\"*\"])",
		size, MaxSpecBytes)}
}

// Prepare fills the defaults a spec leaves out and checks it, as ParseSpec
// does for YAML: for a spec that arrives as JSON, as the input of a run
// started by another client than godwit (`temporal workflow start`).
func (s *Spec) Prepare() error {
	s.applyDefaults()
	if errs := s.Check(); len(errs) > 0 {
		return errs
	}
	return nil
}

// writtenZero is a number the spec writes as 0, where applyDefaults may
// put a default.
type writtenZero struct {
	path string
	v    reflect.Value
}

// refuseWrittenZeros finds the numbers the spec writes as 0 (batchRows: 0,
// maxAttempts: 0) that Check refuses, once applyDefaults has run: without
// it they would become defaults without a word. It leaves those zeros in
// the spec, for Check to report with their range, and returns their
// paths. A zero Check accepts means something (rowsPerSecond: 0 is no
// limit, a tolerance of 0) or does no harm, and keeps what applyDefaults
// made of it.
func (s *Spec) refuseWrittenZeros(zeros []writtenZero) map[string]bool {
	if len(zeros) == 0 {
		return nil
	}
	defaulted := make([]reflect.Value, len(zeros))
	for i, z := range zeros {
		defaulted[i] = reflect.New(z.v.Type()).Elem()
		defaulted[i].Set(z.v)
		z.v.SetZero()
	}
	complaints := map[string]bool{}
	for _, e := range s.Check() {
		complaints[e.Path] = true
	}
	refused := map[string]bool{}
	for i, z := range zeros {
		if complaints[z.path] {
			refused[z.path] = true
		} else {
			z.v.Set(defaulted[i])
		}
	}
	return refused
}

// zeroNote ends the message of a refused written zero.
const zeroNote = " (a 0 written in the spec is not taken as the default: leave the field out for that)"
