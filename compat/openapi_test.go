package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompareOpenAPIFindsBreakingChanges(t *testing.T) {
	r, err := CompareOpenAPI("testdata/api-v1.yaml", "testdata/api-v2.yaml")
	require.NoError(t, err)
	assert.Equal(t, Incompatible, r.OverallCompatibility)
	// oasdiff decides the levels: an optional response property removed
	// is a note, not an error.
	assert.Equal(t, []string{
		"breaking api_path_removed_without_deprecation GET /api/v1/legacy-report",
		"breaking new_required_request_property POST /api/v1/users",
		"breaking request_property_became_required POST /api/v1/users",
		"non_breaking response_optional_property_removed GET /api/v1/users/{id}",
		"additive endpoint_added GET /api/v1/users/{id}/orders",
	}, findings(r))
	assert.Equal(t, Summary{Total: 5, Breaking: 3, NonBreaking: 1, Additive: 1}, r.Summary)
}

func TestCompareOpenAPISameDocumentIsCompatible(t *testing.T) {
	r, err := CompareOpenAPI("testdata/api-v1.yaml", "testdata/api-v1.yaml")
	require.NoError(t, err)
	assert.Equal(t, FullyCompatible, r.OverallCompatibility)
	assert.Empty(t, r.Issues)
}

func TestCompareOpenAPIRejectsWhatIsNotOpenAPI(t *testing.T) {
	_, err := CompareOpenAPI("testdata/before.json", "testdata/api-v1.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "testdata/before.json")
}
