package wsgi

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The crash report finds CPython's local dump functions in the program
// itself (gowsgi-daemon-X.Y, the server's Python linked in), whose argv[0]
// is the daemon's title, not its file (testdata/crash_local_functions.c).
func TestCrashReport_LocalFunctionsOfTheProgram(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "crash_local_functions")
	out, err := exec.Command("gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-D_GNU_SOURCE", "-o", bin,
		filepath.Join("testdata", "crash_local_functions.c"), "-ldl").CombinedOutput()
	require.NoError(t, err, "building: %s", out)
	out, err = exec.Command(bin).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "found\n", string(out))
}
