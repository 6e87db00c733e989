package datacopy_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// deferSetup is a PostgreSQL source kitchen of n rows and an empty target
// kitchen provisioned with its key and indexes, plus a check constraint.
func deferSetup(t *testing.T, n int) (src, dst *datastore.Store) {
	t.Helper()
	ctx := context.Background()
	src = dbtest.New(t, datastore.Postgres).Store
	dst = dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src, dbtest.KitchenDDL(datastore.Postgres, "kitchen")...)
	kitchen, err := src.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if err := src.WriteBatch(ctx, kitchen, dbtest.KitchenRows(i, min(i+1000, n))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{kitchen}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst, `ALTER TABLE kitchen ADD CONSTRAINT kitchen_qty_check CHECK (qty >= 0)`)
	return src, dst
}

// hasKey says whether the target kitchen has its primary key now.
func hasKey(t *testing.T, dst *datastore.Store) bool {
	t.Helper()
	for _, l := range dbtest.IndexShape(t, dst, "kitchen") {
		if strings.Contains(l, "PRIMARY KEY") {
			return true
		}
	}
	return false
}

// A copy into an empty table loads it without its key and indexes (the
// key, kitchen_updated, kitchen_name_id) and ends with exactly the ones it
// had, every row once, on the direct and
// the decoded path, with a catch-up pass (which upserts by the key) after.
func TestDeferredIndexesBuiltAfterTheLoad(t *testing.T) {
	for _, noDirect := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "decoded"}[noDirect], func(t *testing.T) {
			ctx := context.Background()
			src, dst := deferSetup(t, 3000)
			before := dbtest.IndexShape(t, dst, "kitchen")
			keyDuringLoad, sawBuilding, sawDeferred := false, false, false
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 500, DirectBatchTime: -1,
				NoDirect: noDirect, DeferIndexes: true, CatchUp: &datacopy.CatchUp{Column: "updated_at", MaxPasses: 1},
				AfterCommit: func(string) { keyDuringLoad = keyDuringLoad || (!sawBuilding && hasKey(t, dst)) }}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				sawBuilding = sawBuilding || p.Tables[0].BuildingIndexes == 3
				sawDeferred = sawDeferred || p.Checkpoint.Tables["kitchen"].DeferredIndexes != nil
			})
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if after := dbtest.IndexShape(t, dst, "kitchen"); !reflect.DeepEqual(after, before) {
				t.Fatalf("indexes after the copy:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
			if keyDuringLoad || !sawDeferred || !sawBuilding {
				t.Fatalf("key during the load %v, deferral in the checkpoint %v, building reported %v; want false, true, true", keyDuringLoad, sawDeferred, sawBuilding)
			}
			st := res.Checkpoint.Tables["kitchen"]
			if res.Tables[0].IndexesAfterLoad != 3 || st.DeferredIndexes != nil || st.CatchUpPasses != 1 {
				t.Fatalf("result %+v, checkpoint %+v: want 3 indexes built after the load, none left deferred, one catch-up pass", res.Tables[0], st)
			}
		})
	}
}

// A copy stopped after some batches, resumed from a checkpoint older than
// its last commit (a batch committed but not checkpointed) or from none,
// ends with every row once and every index back; a permanent failure
// builds the indexes before it returns.
func TestDeferredIndexesSurviveAStop(t *testing.T) {
	for _, resumeFrom := range []string{"older checkpoint", "no checkpoint"} {
		t.Run(resumeFrom, func(t *testing.T) {
			ctx := context.Background()
			src, dst := deferSetup(t, 3000)
			before := dbtest.IndexShape(t, dst, "kitchen")
			runCtx, cancel := context.WithCancel(ctx)
			var saved [][]byte
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 200, DirectBatchTime: -1, DeferIndexes: true}
			_, err := datacopy.Run(runCtx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				b, _ := json.Marshal(p.Checkpoint)
				saved = append(saved, b)
				if p.RowsDone >= 1000 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "are not built yet") || !strings.Contains(err.Error(), "PRIMARY KEY (id)") {
				t.Fatalf("err = %v, want context.Canceled naming the indexes not built", err)
			}
			if hasKey(t, dst) {
				t.Fatal("the stopped copy built the key: a resumed one would go on without the deferral")
			}
			resume := datacopy.Checkpoint{}
			if resumeFrom == "older checkpoint" {
				if resume, err = datacopy.ParseCheckpoint(saved[len(saved)-3]); err != nil {
					t.Fatal(err)
				}
				if st := resume.Tables["kitchen"]; st.DeferredIndexes == nil || st.RowsDone == 0 || st.RowsDone >= 1000 {
					t.Fatalf("resumed from %+v, want a deferred load part way", st)
				}
			}
			res, err := datacopy.Run(ctx, opts, resume, nil)
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if after := dbtest.IndexShape(t, dst, "kitchen"); !reflect.DeepEqual(after, before) {
				t.Fatalf("indexes after the resumed copy:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
			if res.Tables[0].IndexesAfterLoad != 3 {
				t.Fatalf("result %+v: want 3 indexes built after the load", res.Tables[0])
			}
		})
	}
	t.Run("stopped while building", func(t *testing.T) {
		ctx := context.Background()
		src, dst := deferSetup(t, 3000)
		before := dbtest.IndexShape(t, dst, "kitchen")
		runCtx, cancel := context.WithCancel(ctx)
		var building []byte // the checkpoint as the build starts
		opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 1000, DirectBatchTime: -1, DeferIndexes: true}
		_, err := datacopy.Run(runCtx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
			if p.Tables[0].BuildingIndexes > 0 && building == nil {
				building, _ = json.Marshal(p.Checkpoint)
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || building == nil {
			t.Fatalf("err = %v, want a stop as the indexes were being built", err)
		}
		cp, err := datacopy.ParseCheckpoint(building)
		if err != nil {
			t.Fatal(err)
		}
		// As if the crash had come after the key was built.
		d := cp.Tables["kitchen"].DeferredIndexes
		if d == nil || cp.Tables["kitchen"].RowsDone != 3000 {
			t.Fatalf("checkpoint as the build starts: %+v", cp.Tables["kitchen"])
		}
		dbtest.Exec(t, dst, d.Indexes[0].Statement("kitchen"))
		res, err := datacopy.Run(ctx, opts, cp, nil)
		if err != nil {
			t.Fatal(err)
		}
		dbtest.AssertSameRows(t, src, dst, "kitchen")
		if after := dbtest.IndexShape(t, dst, "kitchen"); !reflect.DeepEqual(after, before) {
			t.Fatalf("indexes after the resumed build:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if res.Tables[0].IndexesAfterLoad != 3 {
			t.Fatalf("result %+v: want 3 indexes built after the load", res.Tables[0])
		}
		// Resumed once more from the same checkpoint (the build's end was
		// not checkpointed): nothing to build, nothing doubled.
		if res, err = datacopy.Run(ctx, opts, cp, nil); err != nil || res.Tables[0].IndexesAfterLoad != 3 {
			t.Fatalf("second resume: %+v, %v", res.Tables, err)
		}
		dbtest.AssertSameRows(t, src, dst, "kitchen")
	})
	t.Run("permanent failure", func(t *testing.T) {
		ctx := context.Background()
		src, dst := deferSetup(t, 3000)
		before := dbtest.IndexShape(t, dst, "kitchen")
		altered := false
		opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 200, DirectBatchTime: -1,
			DeferIndexes: true, DriftCheckEvery: 1}
		_, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
			if p.RowsDone >= 400 && !altered {
				altered = true
				dbtest.Exec(t, src, `ALTER TABLE kitchen ADD COLUMN extra text`)
			}
		})
		if !errors.Is(err, datastore.ErrSchemaDrift) || !strings.Contains(err.Error(), "were re-created") {
			t.Fatalf("err = %v, want the drift, with the indexes re-created", err)
		}
		if after := dbtest.IndexShape(t, dst, "kitchen"); !reflect.DeepEqual(after, before) {
			t.Fatalf("indexes after a permanent failure:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if d, err := dst.IndexesDeferred(ctx, "kitchen"); d != nil || err != nil {
			t.Fatalf("still recorded as deferred: %+v, %v", d, err)
		}
	})
}

// A target that is not empty, a table another references, and a copy
// without DeferIndexes keep the key during the load.
func TestIndexesKeptWhenDeferringIsUnsafe(t *testing.T) {
	for _, c := range []struct {
		name    string
		setup   []string
		deferIt bool
	}{
		{"not empty", []string{`INSERT INTO kitchen (id) VALUES (5)`}, true},
		{"referenced", []string{`CREATE TABLE child (id int PRIMARY KEY, k bigint REFERENCES kitchen (id))`}, true},
		{"opted out", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			src, dst := deferSetup(t, 1500)
			dbtest.Exec(t, dst, c.setup...)
			before := dbtest.IndexShape(t, dst, "kitchen")
			keyless := false
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 500, DirectBatchTime: -1,
				DeferIndexes: c.deferIt, AfterCommit: func(string) { keyless = keyless || !hasKey(t, dst) }}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if keyless || res.Tables[0].IndexesAfterLoad != 0 {
				t.Fatalf("the key was dropped during the load (%v, %d built after)", keyless, res.Tables[0].IndexesAfterLoad)
			}
			if after := dbtest.IndexShape(t, dst, "kitchen"); !reflect.DeepEqual(after, before) {
				t.Fatalf("indexes changed: %v", after)
			}
		})
	}
}

// A target table another session holds is loaded with its indexes after a
// short wait for the lock, not waited for nor failed.
func TestIndexesKeptWhenTheTableIsHeld(t *testing.T) {
	ctx := context.Background()
	src, dst := deferSetup(t, 600)
	holder, err := dst.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `LOCK TABLE kitchen IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	keyless := false
	opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 200, DirectBatchTime: -1,
		DeferIndexes: true, AfterCommit: func(string) { keyless = keyless || !hasKey(t, dst) }}
	res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.AssertSameRows(t, src, dst, "kitchen")
	if keyless || res.Tables[0].IndexesAfterLoad != 0 {
		t.Fatalf("the key was dropped during the load (%v, %d built after)", keyless, res.Tables[0].IndexesAfterLoad)
	}
}
