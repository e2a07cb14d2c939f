package wsgi

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	python3 "github.com/go-python/cpy3"
)

// interp is one application group's Python interpreter in this process.
type interp struct {
	c    *C.gowsgi_interp
	name string

	mu   sync.RWMutex
	apps map[appKey]*app
}

type appKey struct{ script, callable string }

// withGIL runs fn inside the interpreter on this OS thread, using the
// thread's cached thread state.
func (it *interp) withGIL(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts := C.gowsgi_enter(it.c)
	defer C.gowsgi_leave(ts)
	fn()
}

// prepare applies the Python settings to a new interpreter: WSGIPythonPath
// (or python-path=) through site.addsitedir (so .pth files count), then
// each WSGIPythonPath layer of mod_wsgi 6's <WSGIInterpreterOptions> that
// selects it, each put first in turn as 6.0.5 does; a daemon's home=; and
// the signal restriction (signal_restrict.c), which a container may set
// per application group.
func (it *interp) prepare() error {
	var opts C.gowsgi_interp_settings
	name := C.CString(it.name)
	C.gowsgi_interp_settings_of(name, &opts)
	C.free(unsafe.Pointer(name))
	passes := [][]string{eng.pythonPath}
	if opts.python_path_layers != nil {
		for _, layer := range strings.Split(C.GoString(opts.python_path_layers), "\n") {
			passes = append(passes, splitPath(layer))
		}
	}
	var err error
	it.withGIL(func() {
		for _, dirs := range passes {
			if err = addSiteDirsFirst(dirs); err != nil {
				return
			}
		}
		if eng.pathFirst != "" {
			path := python3.PySys_GetObject("path") // borrowed
			item := python3.PyUnicode_FromString(eng.pathFirst)
			rc := python3.PyList_Insert(path, 0, item)
			item.DecRef()
			if rc != 0 {
				err = fmt.Errorf("putting %s first on sys.path: %s", eng.pathFirst, fetchError())
				return
			}
		}
		if opts.restrict_signal != 0 && C.gowsgi_signal_restrict_install() != 0 {
			err = fmt.Errorf("installing the signal restriction failed: %s", fetchError())
		}
	})
	return err
}

// splitPath splits a ':'-separated list of directories, dropping empties.
func splitPath(list string) []string {
	var dirs []string
	for _, dir := range strings.Split(list, ":") {
		if dir != "" {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// addSiteDirsFirst adds dirs with site.addsitedir and moves what they (and
// their .pth files) added to the front of sys.path, as mod_wsgi does, so
// they shadow the system's packages. The GIL is held.
func addSiteDirsFirst(dirs []string) error {
	if len(dirs) == 0 {
		return nil
	}
	site := python3.PyImport_ImportModule("site")
	if site == nil {
		return fmt.Errorf("import site: %s", fetchError())
	}
	defer site.DecRef()
	path := python3.PySys_GetObject("path") // borrowed
	before := python3.PyList_Size(path)
	for _, dir := range dirs {
		arg := python3.PyUnicode_FromString(dir)
		r := site.CallMethodArgs("addsitedir", arg)
		arg.DecRef()
		if r == nil {
			return fmt.Errorf("site.addsitedir(%q): %s", dir, fetchError())
		}
		r.DecRef()
	}
	return moveToFront(path, before)
}

// moveToFront moves sys.path[from:] before sys.path[:from].
func moveToFront(path *python3.PyObject, from int) error {
	n := python3.PyList_Size(path)
	if from <= 0 || from >= n {
		return nil
	}
	added := python3.PyList_GetSlice(path, from, n)
	old := python3.PyList_GetSlice(path, 0, from)
	defer added.DecRef()
	defer old.DecRef()
	if python3.PyList_SetSlice(path, 0, n, added) != 0 || python3.PyList_SetSlice(path, n-from, n-from, old) != 0 {
		return fmt.Errorf("reordering sys.path: %s", fetchError())
	}
	return nil
}

// app returns the entry for a script and callable, creating it unloaded.
func (it *interp) app(script, callable string) *app {
	key := appKey{script, callable}
	it.mu.RLock()
	a := it.apps[key]
	it.mu.RUnlock()
	if a != nil {
		return a
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if a = it.apps[key]; a == nil {
		a = &app{it: it, script: script, callable: callable, c: newCApp()}
		it.apps[key] = a
	}
	return a
}

// fetchError takes the pending Python exception as text, clearing it.
func fetchError() string {
	t, v, tb := python3.PyErr_Fetch()
	defer func() {
		t.DecRef()
		v.DecRef()
		tb.DecRef()
	}()
	if v == nil {
		if t == nil {
			return "unknown error"
		}
		name := t.Str()
		if name == nil {
			python3.PyErr_Clear()
			return "unprintable exception"
		}
		defer name.DecRef()
		return python3.PyUnicode_AsUTF8(name)
	}
	s := v.Str()
	if s == nil {
		python3.PyErr_Clear()
		return "unprintable exception"
	}
	defer s.DecRef()
	return python3.PyUnicode_AsUTF8(s)
}
