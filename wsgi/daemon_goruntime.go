package wsgi

import (
	"os"
	"strings"
)

// daemonEnvGOMAXPROCS is what the forked daemon process left of Apache's
// GOMAXPROCS when it set its own (cshim/daemon_child.c): "-" for none,
// "=value" for Apache's value.
const daemonEnvGOMAXPROCS = "GOWSGI_DAEMON_GOMAXPROCS"

// restoreDaemonEnvironment undoes the GOMAXPROCS=1 a daemon process's Go
// runtime started with (one P from the start: docs/benchmarks.md, "Go
// runtime in an idle daemon"), so that Python's os.environ is Apache's,
// as under mod_wsgi. Before Python starts; Go's own GOMAXPROCS stays 1
// (DaemonMain).
func restoreDaemonEnvironment() {
	was, ok := os.LookupEnv(daemonEnvGOMAXPROCS)
	if !ok {
		return
	}
	// Errors are impossible here (valid names, no NUL): nothing to report.
	_ = os.Unsetenv(daemonEnvGOMAXPROCS)
	if v, set := strings.CutPrefix(was, "="); set {
		_ = os.Setenv("GOMAXPROCS", v)
	} else {
		_ = os.Unsetenv("GOMAXPROCS")
	}
}
