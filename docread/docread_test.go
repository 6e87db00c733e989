package docread

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type column struct {
	Type     string `yaml:"type"`
	Nullable *bool  `yaml:"nullable"`
}

type table struct {
	Columns map[string]column `yaml:"columns"`
}

type schema struct {
	Tables map[string]table `yaml:"tables"`
}

func TestDecodeUnknownFieldIsAWarningThatListsIt(t *testing.T) {
	data := []byte("tables:\n  users:\n    columns:\n      id: {type: bigint, nulable: false, comment: the key}\n")
	var s schema
	doc, err := Decode("schema.yaml", data, &s)
	require.NoError(t, err, "an unknown field in a description must not stop it")
	assert.Equal(t, "bigint", s.Tables["users"].Columns["id"].Type, "the known fields are decoded")
	require.Len(t, doc.Warnings, 2)
	lines := doc.WarningLines()
	assert.Contains(t, lines[0], `schema.yaml: tables.users.columns.id.nulable (line 4): unknown field (did you mean "nullable"?)`)
	assert.Contains(t, lines[0], "ignored")
	assert.Contains(t, lines[1], "tables.users.columns.id.comment (line 4): unknown field")
}

func TestDecodeWrongTypeStaysAnErrorAndListsUnknownFields(t *testing.T) {
	data := []byte("tables:\n  users:\n    columns:\n      id: {nullable: maybe, tipe: x}\n")
	var s schema
	_, err := Decode("schema.yaml", data, &s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tables.users.columns.id.nullable (line 4): "maybe" is a string, but this field needs true or false`)
	assert.Contains(t, err.Error(), `tipe (line 4): unknown field (did you mean "type"?)`, "a failing document names its unknown fields too")
}

func TestDecodeSkipsAUTF8ByteOrderMark(t *testing.T) {
	for _, data := range []string{
		"\ufeff{\"tables\": {\"users\": {\"columns\": {\"id\": {\"type\": \"bigint\"}}}}}",
		"\ufefftables:\n  users:\n    columns:\n      id: {type: bigint}\n",
	} {
		var s schema
		doc, err := Decode("bom", []byte(data), &s)
		require.NoError(t, err)
		assert.Empty(t, doc.Warnings, "the mark is not a field")
		assert.Equal(t, "bigint", s.Tables["users"].Columns["id"].Type)
	}
}

// TestMethodSamplesAreShippedBytes guards the corpus: the method's files
// stay as shipped, so the tests that read them test what users have.
func TestMethodSamplesAreShippedBytes(t *testing.T) {
	for name, size := range map[string]int64{
		"assets/database_schema_before.json":    5782,
		"assets/database_schema_after.json":     9304,
		"assets/sample_database_migration.json": 2413,
		"assets/sample_service_migration.json":  4889,
	} {
		fi, err := os.Stat(filepath.Join("testdata", "method", name))
		require.NoError(t, err)
		assert.Equal(t, size, fi.Size(), "%s is not the shipped file: do not edit the corpus", name)
	}
}

// A list or mapping in the wrong place is reported at its field, in the
// document's words, not as yaml's Go type of the whole document.
func TestDecodeWrongKindOfCollectionNamesTheField(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"a list for a mapping", "tables:\n  users:\n    columns: [id, name]\n",
			"tables.users.columns (line 3): is a list, but this field needs a mapping"},
		{"a list for text", "tables:\n  users:\n    columns:\n      id: {type: [int]}\n",
			"tables.users.columns.id.type (line 4): is a list, but this field needs a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s schema
			_, err := Decode("schema.yaml", []byte(c.data), &s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "docread.", "no Go type names")
		})
	}
}
