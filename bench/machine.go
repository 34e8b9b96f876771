package bench

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes the machine a run measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	MemoryMiB int64  `json:"memoryMiB"`
	GoVersion string `json:"goVersion"`
	Kernel    string `json:"kernel"`
	OS        string `json:"os"`
}

// DescribeMachine reads the machine's description from /proc and the
// runtime. Anything it cannot read is "unknown".
func DescribeMachine() Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  "unknown",
		GoVersion: runtime.Version(),
		Kernel:    "unknown",
		OS:        "unknown",
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		if v := procField(f, "model name"); v != "" {
			m.CPUModel = v
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		if b, err := parseKB(procField(f, "MemTotal")); err == nil {
			m.MemoryMiB = b >> 20
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if f, err := os.Open("/etc/os-release"); err == nil {
		if v := procField(f, "PRETTY_NAME"); v != "" {
			m.OS = strings.Trim(v, `"`)
		}
		f.Close()
	}
	return m
}

// procField returns the value of the first "key: value" (or key=value)
// line of r whose key is key, trimmed, or "".
func procField(r io.Reader, key string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			k, v, ok = strings.Cut(line, "=")
		}
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// LoadAverage returns the system's load average over the last minute from
// /proc/loadavg: how many tasks were running or waiting for a CPU.
func LoadAverage() (float64, bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return v, err == nil
}
