// Package pycopy copies a CPython installation (a pyenv build, which lives
// under /root where Apache's User and the daemon groups' users cannot
// read) to a place they can: hard links where the file system allows,
// else a plain copy, with every directory of the copy made readable.
// Shared by the integration tests and the benchmarks.
package pycopy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Copy copies the installation at src to dst (which must not exist).
func Copy(src, dst string) error {
	if out, err := exec.Command("cp", "-al", src, dst).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dst)
		if out2, err2 := exec.Command("cp", "-a", src, dst).CombinedOutput(); err2 != nil {
			return fmt.Errorf("copying %s: %s / %s", src, out, out2)
		}
	}
	// Directories the copy made are the umask's: every user reads them.
	err := filepath.Walk(dst, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			return os.Chmod(path, info.Mode().Perm()|0o755)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("making %s readable: %w", dst, err)
	}
	return nil
}
