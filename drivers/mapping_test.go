package drivers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/godwit/godwit/config"
	cutoverdriver "github.com/godwit/godwit/drivers/cutover"
	reconciledriver "github.com/godwit/godwit/drivers/reconcile"
	retiredriver "github.com/godwit/godwit/drivers/retire"
)

// mappedSpec is a spec with issue 19's mapping and the phases given.
func mappedSpec(phases string) string {
	return `name: mapped
stores:
  legacy: {engine: postgres, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: mysql, dsn: {fromEnv: NEW_DSN}}
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      order_line:
        to: SalesLine
        columns: {unit_price: Price}
        drop: [legacy_note]
        add:
          LineTotal: {expr: "unit_price * quantity", type: "decimal(12,2)"}
        where: "quantity > 0"
      customer_account: {}
phases:
` + phases
}

func TestMappedReconcilePhaseCarriesItsMapping(t *testing.T) {
	spec, err := config.ParseSpec([]byte(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n")))
	if err != nil {
		t.Fatal(err)
	}
	// The activity sees only its phase, through JSON: the mapping and the
	// stores must travel with the section.
	b, err := json.Marshal(spec.Phases[0])
	if err != nil {
		t.Fatal(err)
	}
	var p config.PhaseSpec
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	s := p.Driver.(*reconciledriver.Spec)
	if s.From != "legacy" || s.To != "new" || s.FromStore.Engine != "postgres" || s.ToStore.Engine != "mysql" {
		t.Errorf("stores from the mapping: %s→%s (%s→%s)", s.From, s.To, s.FromStore.Engine, s.ToStore.Engine)
	}
	if s.MappingSpec == nil || s.MappingSpec.Tables["order_line"].To != "SalesLine" || s.MappingSpec.Names != "PascalCase" {
		t.Errorf("mapping not carried: %+v", s.MappingSpec)
	}
	if strings.Join(s.Tables, ",") != "customer_account,order_line" {
		t.Errorf("tables = %v, want the mapping's", s.Tables)
	}
}

func TestMappingErrorsNameTheMappingTableAndField(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"unknown names rule",
			strings.Replace(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n"), "names: PascalCase", "names: Pascal", 1),
			`mappings.shop.names (line 9): names rule "Pascal" is not known`},
		{"add without type",
			strings.Replace(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n"), `, type: "decimal(12,2)"`, "", 1),
			"mappings.shop.tables.order_line.add.LineTotal.type (line 16): is required"},
		{"volatile expression",
			strings.Replace(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n"), "unit_price * quantity", "now()", 1),
			"mappings.shop.tables.order_line.add.LineTotal.expr (line 16): calls now"},
		{"two tables onto one target",
			strings.Replace(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n"), "customer_account: {}", "customer_account: {to: SalesLine}", 1),
			"both map to target table SalesLine"},
		{"unknown store",
			strings.Replace(mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop}\n"), "to: new\n", "to: neww\n", 1),
			`mappings.shop.to (line 8): store "neww" is not in stores: (add it there with engine and dsn) (did you mean "new"?)`},
		{"unknown mapping",
			mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shopp}\n"),
			`phases[0].reconcile.mapping (line 21): mapping "shopp" is not in mappings: (did you mean "shop"?)`},
		{"mapping and other stores",
			mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop, from: new, to: legacy}\n"),
			"phases[0].reconcile.from (line 21): is new but mapping shop maps from legacy to new"},
		{"where on both sides",
			mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop, where: {\"*\": \"id < 10\"}}\n"),
			"phases[0].reconcile.where (line 21): with a mapping is not supported yet"},
		{"reverse check",
			mappedSpec("  - phase: reconcile\n    reconcile: {mapping: shop, direction: reverse}\n"),
			"phases[0].reconcile.direction (line 21): is reverse (direction: reverse), so the check compares new against legacy through the inverse of mapping shop, which has none: mappings.shop.tables.order_line.where"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(c.spec))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseSpec = %v\nwant an error with %q", err, c.want)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n > 2 {
				t.Errorf("one mistake, %d errors:\n%v", n, err)
			}
		})
	}
}

// TestMappedRetirePhaseCarriesItsMapping: retire {mapping: shop} (which
// was refused at validate) retires the mapping's source tables in its
// source store, and they travel with the section to the activity.
func TestMappedRetirePhaseCarriesItsMapping(t *testing.T) {
	spec, err := config.ParseSpec([]byte(mappedSpec("  - phase: decommission\n    retire: {mapping: shop}\n")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(spec.Phases[0])
	if err != nil {
		t.Fatal(err)
	}
	var p config.PhaseSpec
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	s := p.Driver.(*retiredriver.Spec)
	if s.Store != "legacy" || s.Stores["legacy"].Engine != "postgres" {
		t.Errorf("store from the mapping: %s (%+v)", s.Store, s.Stores)
	}
	if strings.Join(s.Tables, ",") != "customer_account,order_line" {
		t.Errorf("tables = %v, want the mapping's source tables", s.Tables)
	}
}

func TestMappedProvisionAndCopyCarryTheirMapping(t *testing.T) {
	spec, err := config.ParseSpec([]byte(mappedSpec(`  - phase: provision
    provision: {mapping: shop}
  - phase: copy
    copy: {mapping: shop}
`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range spec.Phases {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back config.PhaseSpec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"mappingSpec":{"from":"legacy","to":"new","names":"PascalCase"`) {
			t.Errorf("%s: the mapping does not travel with the section: %s", p.Name, b)
		}
	}
	// The provision knows the copy loads its store (the copy's stores come
	// from the mapping before any section is checked): the foreign keys
	// wait for the load.
	if !strings.Contains(mustJSON(t, spec.Phases[0]), `"stores":{"legacy"`) || strings.Contains(mustJSON(t, spec.Phases[0]), `"foreignKeysNow":true`) {
		t.Errorf("provision section: %s", mustJSON(t, spec.Phases[0]))
	}
}

func TestMappedProvisionRefusesTypeOverrides(t *testing.T) {
	if _, err := config.ParseSpec([]byte(mappedSpec("  - phase: provision\n    provision: {mapping: shop, ddl: {fromFile: x.sql}}\n"))); err != nil {
		t.Errorf("a mapped provision from a DDL file: %v", err)
	}
	for section, want := range map[string]string{
		"provision: {mapping: shop, typeOverrides: {a.b: BIGINT}}": "phases[0].provision.typeOverrides (line 21): does not apply to a mapped provision",
	} {
		_, err := config.ParseSpec([]byte(mappedSpec("  - phase: provision\n    " + section + "\n")))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %q", section, err, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCutoverRefusesAMappingWithNoInverseNamingTheRule(t *testing.T) {
	cutover := "  - phase: copy\n    cutover: {mapping: shop, route: r, gateway: {url: http://gw}}\n"
	_, err := config.ParseSpec([]byte(mappedSpec(cutover)))
	want := `phases[0].cutover.mapping (line 21): cutover sets up reverse replication (new → legacy) through the inverse of mapping shop, which has none: mappings.shop.tables.order_line.where: a filter (where: quantity > 0) carries only the rows it holds for`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ParseSpec = %v\nwant an error with %q", err, want)
	}

	// inverse: is accepted under cast and add; with the filter gone and the
	// cast given its inverse, the cut-over takes the mapping: its stores
	// and tables are the mapping's, as the replicate setup's are.
	setup := "  - phase: provision\n    replicate: {mapping: shop, mode: setup}\n"
	invertible := strings.Replace(mappedSpec(setup+strings.Replace(cutover, "url:", "admin:", 1)), `        where: "quantity > 0"
`, `        cast: {price_text: {type: "decimal(10,2)", inverse: "CAST(PriceText AS varchar(20))"}}
`, 1)
	invertible = strings.Replace(invertible, `drop: [legacy_note]`, `drop: [legacy_note, amount_cents]`, 1)
	invertible = strings.Replace(invertible, `type: "decimal(12,2)"}`, `type: "decimal(12,2)"}
          Amount: {expr: "amount_cents / 100.0", type: "decimal(12,2)", inverse: {amount_cents: "CAST(Amount * 100 AS bigint)"}}`, 1)
	spec, err := config.ParseSpec([]byte(invertible))
	if err != nil {
		t.Fatalf("ParseSpec = %v\n%s", err, invertible)
	}
	c := spec.Phases[1].Driver.(*cutoverdriver.Spec)
	if c.From != "legacy" || c.To != "new" || fmt.Sprint(c.Tables) != "[customer_account order_line]" || c.MappingSpec == nil {
		t.Errorf("cutover section = from %q, to %q, tables %v, mapping %v: want the mapping's", c.From, c.To, c.Tables, c.MappingSpec)
	}
	m := spec.Mappings["shop"]
	if m.Tables["order_line"].Cast["price_text"].Inverse != "CAST(PriceText AS varchar(20))" ||
		m.Tables["order_line"].Add["Amount"].Inverse["amount_cents"] != "CAST(Amount * 100 AS bigint)" {
		t.Errorf("inverse: not read: %+v", m.Tables["order_line"])
	}
}

// replicate takes a mapping (its stores and tables are the mapping's, and
// the mapping travels with the section), by either method (a maxLag
// under the logical floor needs method triggers, as without a mapping),
// and the catchUp must name the setup's mapping.
func TestMappedReplicateCarriesItsMapping(t *testing.T) {
	spec, err := config.ParseSpec([]byte(mappedSpec(`  - phase: provision
    replicate: {mapping: shop, mode: setup, method: triggers}
  - phase: copy
    replicate: {mapping: shop, maxLag: 50ms}
`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range spec.Phases {
		if b := mustJSON(t, p); !strings.Contains(b, `"from":"legacy","to":"new","tables":["customer_account","order_line"],"mapping":"shop","mappingSpec":{"from":"legacy"`) {
			t.Errorf("%s: the mapping and its stores do not travel with the section: %s", p.Name, b)
		}
		if got := fmt.Sprint(p.Driver.(config.Resourcer).Resources(spec)); !strings.Contains(got, "SalesLine") || strings.Contains(got, "order_line") {
			t.Errorf("%s: resources %s, want the target tables (SalesLine)", p.Name, got)
		}
	}
	if _, err := config.ParseSpec([]byte(mappedSpec("  - phase: provision\n    replicate: {mapping: shop, mode: setup, method: logical}\n"))); err != nil {
		t.Errorf("a mapped capture by logical replication: %v", err)
	}
	for phases, want := range map[string]string{
		"  - phase: provision\n    replicate: {mapping: shop, mode: setup}\n  - phase: copy\n    replicate: {mapping: shop, maxLag: 50ms}\n":                 "phases[1].replicate.maxLag (line 23): 50ms is under what the auto (logical on PostgreSQL) method can measure (1s)",
		"  - phase: provision\n    replicate: {mapping: shop, mode: setup}\n  - phase: copy\n    replicate: {from: legacy, to: new, tables: [order_line]}\n": `phases[1].replicate.mapping (line 23): must be the setup phase's ("shop", not "")`,
	} {
		_, err := config.ParseSpec([]byte(mappedSpec(phases)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %q", phases, err, want)
		}
	}
}

// A mapped cut-over drains the capture its replicate setup made: the
// setup must name the same mapping.
func TestMappedCutoverNeedsTheSetupsMapping(t *testing.T) {
	invertible := strings.Replace(mappedSpec(`  - phase: provision
    replicate: {from: legacy, to: new, tables: [customer_account, order_line], mode: setup}
  - phase: copy
    cutover: {mapping: shop, route: r, gateway: {admin: http://gw}}
`), "        where: \"quantity > 0\"\n", "", 1)
	_, err := config.ParseSpec([]byte(invertible))
	want := `phases[1].cutover.mapping (line 22): must be the replicate setup phase provision's ("", not "shop"): one capture, one mapping`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ParseSpec = %v\nwant an error with %q", err, want)
	}
}
