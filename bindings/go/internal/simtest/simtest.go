// Package simtest runs the cxoauth simulator (cxoauth-sim) for this module's tests: Main
// starts one on a free loopback port for the whole test binary, the helpers talk to its admin
// API. Tests using it reset it and therefore do not run in parallel.
//
// The simulator binary is CXOAUTH_SIM_BIN, else target/debug/cxoauth-sim in the nearest
// parent directory that has one (the repository root when run inside it).
package simtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The credentials the simulator accepts.
const (
	ClientID = "test-client"
	Secret   = "s3cr:/+=%&et value"
)

// Base is the simulator's URL (http://127.0.0.1:PORT), set by Main.
var Base string

// Main starts the simulator, runs the tests (m.Run, Base set) and stops it; use as
// func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }.
func Main(m interface{ Run() int }) int {
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

func simBin() (string, error) {
	if bin := os.Getenv("CXOAUTH_SIM_BIN"); bin != "" {
		return bin, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		bin := filepath.Join(dir, "target", "debug", "cxoauth-sim")
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("simulator not found: set CXOAUTH_SIM_BIN")
		}
		dir = parent
	}
}

func start() (stop func(), err error) {
	bin, err := simBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cxoauth-go-sim")
	if err != nil {
		return nil, err
	}
	portFile := filepath.Join(dir, "port")
	logPath := filepath.Join(dir, "log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "--port", "0", "--port-file", portFile, "--client", ClientID+":"+Secret)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the simulator %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
		logFile.Close()
		os.RemoveAll(dir)
	}
	// Readiness: the simulator writes its port once it listens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(portFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			port, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				stop()
				return nil, fmt.Errorf("bad port file: %w", err)
			}
			Base = fmt.Sprintf("http://127.0.0.1:%d", port)
			return stop, nil
		}
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			stop()
			return nil, fmt.Errorf("the simulator exited (%v):\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("the simulator did not become ready")
		}
	}
}

// HTTP is a plain HTTP client (no cxoauth) for the admin API and raw API requests.
var HTTP = &http.Client{Timeout: 10 * time.Second}

// Admin calls the admin API (path below /__admin/) and decodes a JSON reply into out (if not
// nil); any non-2xx status fails the test.
func Admin(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, Base+"/__admin/"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := HTTP.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("admin %s %s: HTTP %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("admin %s %s: %v", method, path, err)
		}
	}
}

// Reset clears faults, counters, tokens and the config (token lifetime).
func Reset(t testing.TB) { t.Helper(); Admin(t, "POST", "reset", nil, nil) }

// Counters returns the request counters (token_requests, api_requests, ...).
func Counters(t testing.TB) map[string]int {
	t.Helper()
	c := map[string]int{}
	Admin(t, "GET", "counters", nil, &c)
	return c
}

// Fault injects one fault (see the simulator's Fault type).
func Fault(t testing.TB, f any) { t.Helper(); Admin(t, "POST", "faults", f, nil) }

// Revoke makes every token issued so far invalid (the API answers 401).
func Revoke(t testing.TB) { t.Helper(); Admin(t, "POST", "revoke", nil, nil) }

// SetTokenLifetime makes the tokens issued from now on expire after s seconds.
func SetTokenLifetime(t testing.TB, s int) {
	t.Helper()
	Admin(t, "POST", "config", map[string]any{"token_lifetime_s": s}, nil)
}

// CountersNoT reads the counters without a testing.TB (for helper goroutines); empty on error.
func CountersNoT() map[string]int {
	c := map[string]int{}
	resp, err := HTTP.Get(Base + "/__admin/counters")
	if err != nil {
		return c
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&c)
	return c
}

// Poll reports whether cond became true within 10s; usable from any goroutine.
func Poll(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
