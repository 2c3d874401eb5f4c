package cxoauth

// The simulator fixture: TestMain starts one cxoauth-sim (CXOAUTH_SIM_BIN, default
// <repo>/target/debug/cxoauth-sim) on a free loopback port and stops it at the end. Tests
// reset it through its admin API and therefore do not run in parallel.

import (
	"bytes"
	"encoding/json"
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

const (
	testClientID = "test-client"
	testSecret   = "s3cr:/+=%&et value"
)

var simBase string // http://127.0.0.1:PORT

func TestMain(m *testing.M) {
	os.Exit(runWithSim(m))
}

func runWithSim(m *testing.M) int {
	bin := os.Getenv("CXOAUTH_SIM_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "target", "debug", "cxoauth-sim")
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: simulator not found (set CXOAUTH_SIM_BIN): %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "cxoauth-go-sim")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	portFile := filepath.Join(dir, "port")
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "--port", "0", "--port-file", portFile, "--client", testClientID+":"+testSecret)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the simulator:", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()

	// Readiness: the simulator writes its port once it listens.
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		if b, err := os.ReadFile(portFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			port, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "FAIL: bad port file:", err)
				return 1
			}
			simBase = fmt.Sprintf("http://127.0.0.1:%d", port)
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "FAIL: the simulator did not become ready")
			return 1
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			fmt.Fprintf(os.Stderr, "FAIL: the simulator exited (%v):\n%s\n", err, log)
			exited <- err
			return 1
		case <-poll.C:
		}
	}
	return m.Run()
}

var adminHTTP = &http.Client{Timeout: 10 * time.Second}

// admin calls the simulator's admin API and decodes a JSON reply into out (if not nil).
func admin(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, simBase+"/__admin/"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := adminHTTP.Do(req)
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

func resetSim(t testing.TB) { t.Helper(); admin(t, "POST", "reset", nil, nil) }

func counters(t testing.TB) map[string]int {
	t.Helper()
	c := map[string]int{}
	admin(t, "GET", "counters", nil, &c)
	return c
}

func fault(t testing.TB, f any) { t.Helper(); admin(t, "POST", "faults", f, nil) }

func testConfig() Config {
	return Config{
		TokenURL:      simBase + "/oauth/token",
		APIBase:       simBase,
		ClientID:      testClientID,
		ClientSecret:  testSecret,
		BackoffBaseMS: 20,
		BackoffMaxMS:  200,
	}
}

// newTestClient resets the simulator and returns a client closed at the end of the test.
func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	resetSim(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond (bounded) instead of sleeping blindly.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll reports whether cond became true within 10s; usable from any goroutine.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// simCounters reads the counters without a testing.TB (for helper goroutines).
func simCounters() map[string]int {
	c := map[string]int{}
	resp, err := adminHTTP.Get(simBase + "/__admin/counters")
	if err != nil {
		return c
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&c)
	return c
}
