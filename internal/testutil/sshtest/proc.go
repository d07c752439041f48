package sshtest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStatus reads the parent pid and the real and effective uids of pid
// from /proc/PID/status. Zombies count as gone: they cannot be signalled and
// only their parent can remove them.
func procStatus(pid int) (ppid, ruid, euid int, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, 0, err
	}
	if bytes.Contains(data, []byte("\nState:\tZ")) {
		return 0, 0, 0, errors.New("zombie")
	}
	ppid, ruid, euid = -1, -1, -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch {
		case key == "PPid" && len(f) >= 1:
			ppid, _ = strconv.Atoi(f[0])
		case key == "Uid" && len(f) >= 2:
			ruid, _ = strconv.Atoi(f[0])
			euid, _ = strconv.Atoi(f[1])
		}
	}
	if ppid < 0 || ruid < 0 || euid < 0 {
		return 0, 0, 0, errors.New("malformed /proc status")
	}
	return ppid, ruid, euid, nil
}

// signalMatching sends sig to every process for which match returns true and
// reports how many it signalled. Each process is pinned with a pidfd
// (os.FindProcess) before match is checked again, so a pid reused between
// the scan and the signal is never hit.
func signalMatching(sig syscall.Signal, match func(ppid, ruid, euid int) bool) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ppid, ruid, euid, err := procStatus(pid); err != nil || !match(ppid, ruid, euid) {
			continue
		}
		p, err := os.FindProcess(pid)
		if err != nil {
			continue
		}
		if ppid, ruid, euid, err := procStatus(pid); err == nil && match(ppid, ruid, euid) {
			if p.Signal(sig) == nil {
				n++
			}
		}
		_ = p.Release()
	}
	return n
}
