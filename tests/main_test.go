package tests

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain stops the shared servers after all tests and raises the default
// parallelism: the tests mostly wait on Apache, not on the CPU.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.parallel"); f != nil && !isFlagSet("test.parallel") {
		_ = f.Value.Set("6")
	}
	fmt.Fprintf(os.Stderr, "gowsgi integration tests: module=%s mpms=%v\n", targetModule(), testMPMs())
	code := m.Run()
	removePythonCopies()
	if errs := stopSharedServers(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "FAIL (shared server shutdown):", e)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
