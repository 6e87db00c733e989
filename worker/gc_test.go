package main

import "testing"

func TestChooseGC(t *testing.T) {
	for _, c := range []struct {
		name           string
		gogc, memlimit string
		cgroup         int64
		percent        int
		limit          int64
	}{
		{"nothing set", "", "", 0, workerGCPercent, workerMemoryLimit},
		{"GOGC set: left alone", "100", "", 0, -1, workerMemoryLimit},
		{"GOMEMLIMIT set: left alone", "", "2GiB", 0, workerGCPercent, 0},
		{"both set", "off", "512MiB", 0, -1, 0},
		{"a small cgroup lowers the limit", "", "", 512 << 20, workerGCPercent, (512 << 20) / 10 * 7},
		{"a large cgroup does not raise it", "", "", 64 << 30, workerGCPercent, workerMemoryLimit},
	} {
		got := chooseGC(c.gogc, c.memlimit, c.cgroup)
		if got.Percent != c.percent || got.Limit != c.limit {
			t.Errorf("%s: chooseGC(%q, %q, %d) = %+v, want percent %d limit %d", c.name, c.gogc, c.memlimit, c.cgroup, got, c.percent, c.limit)
		}
	}
}
