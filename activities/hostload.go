package activities

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// hostLoad describes the worker host's load in words for the status
// report ("host w1: load 0.52 0.40 0.33 on 2 CPUs, memory 35% used"); ""
// where /proc cannot tell (not Linux).
func hostLoad() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	host, _ := os.Hostname()
	text := fmt.Sprintf("worker %s: load %s %s %s on %d CPUs", host, f[0], f[1], f[2], runtime.NumCPU())
	if used, ok := memoryUsed(); ok {
		text += fmt.Sprintf(", memory %.0f%% used", used)
	}
	return text
}

// memoryUsed returns the share of memory in use, percent, from
// /proc/meminfo (MemAvailable counts what the kernel can free).
func memoryUsed() (float64, bool) {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var total, avail float64
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 0, false
	}
	return 100 * (total - avail) / total, true
}
