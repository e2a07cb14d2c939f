package wsgi

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"

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

// prepare applies the process-wide Python settings to a new interpreter:
// WSGIPythonPath through site.addsitedir (so .pth files count) and the
// signal restriction (signal_restrict.c).
func (it *interp) prepare() error {
	var err error
	it.withGIL(func() {
		if len(eng.pythonPath) > 0 {
			site := python3.PyImport_ImportModule("site")
			if site == nil {
				err = fmt.Errorf("import site: %s", fetchError())
				return
			}
			defer site.DecRef()
			path := python3.PySys_GetObject("path") // borrowed
			before := python3.PyList_Size(path)
			for _, dir := range eng.pythonPath {
				arg := python3.PyUnicode_FromString(dir)
				r := site.CallMethodArgs("addsitedir", arg)
				arg.DecRef()
				if r == nil {
					err = fmt.Errorf("site.addsitedir(%q): %s", dir, fetchError())
					return
				}
				r.DecRef()
			}
			// mod_wsgi puts WSGIPythonPath (and what its .pth files add)
			// first, so it shadows the system's packages.
			if err = moveToFront(path, before); err != nil {
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
		if eng.restrictSignal && C.gowsgi_signal_restrict_install() != 0 {
			err = fmt.Errorf("installing the signal restriction failed: %s", fetchError())
		}
	})
	return err
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
