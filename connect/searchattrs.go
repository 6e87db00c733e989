package connect

import (
	"context"
	"fmt"
	"sort"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// EnsureSearchAttributes registers the search attributes attrs (name to
// type) in the namespace when they are missing. A migration upserts them as it moves, and
// an unregistered attribute would fail its workflow tasks, so the worker
// checks before it polls.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enums.IndexedValueType) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	for n, typ := range attrs {
		if _, ok := resp.GetCustomAttributes()[n]; !ok {
			missing[n] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("register search attributes %v in namespace %s: %w\n"+
			"register them once as an operator: temporal operator search-attribute create --namespace %s --name MigrationPhase --type Keyword --name MigrationStatus --type Keyword --name ReplicationLag --type Double",
			keys(missing), namespace, err, namespace)
	}
	return nil
}

func keys(m map[string]enums.IndexedValueType) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
