package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, which
// Linux fixes at 100 for user space on every architecture).
const clockTick = 10 * time.Millisecond

// procSample is what /proc tells about a process at one moment.
type procSample struct {
	CPU time.Duration // user + system time since the process started
	RSS int64         // resident set size, bytes
}

// sampleProc reads the CPU time and RSS of process pid from /proc.
func sampleProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name may hold spaces and parentheses: fields are counted
	// from the last ')'. After it come field 3 (state) onwards; utime and
	// stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("loadgen: malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return procSample{}, fmt.Errorf("loadgen: malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("loadgen: malformed /proc/%d/stat", pid)
	}
	s := procSample{CPU: time.Duration(utime+stime) * clockTick}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				s.RSS = kb << 10
			}
		}
	}
	return s, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStats is the part of an expvar /debug/vars document the load generator
// reads: the Go runtime's heap and stack in use.
type memStats struct {
	HeapInuse  int64 `json:"HeapInuse"`
	StackInuse int64 `json:"StackInuse"`
}

// fetchMemStats reads the "memstats" of an expvar endpoint.
func fetchMemStats(url string) (memStats, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return memStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return memStats{}, fmt.Errorf("loadgen: %s answered %s", url, resp.Status)
	}
	var doc struct {
		MemStats *memStats `json:"memstats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return memStats{}, fmt.Errorf("loadgen: %s: %w", url, err)
	}
	if doc.MemStats == nil {
		return memStats{}, fmt.Errorf("loadgen: %s has no memstats", url)
	}
	return *doc.MemStats, nil
}
