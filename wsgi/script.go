package wsgi

/*
#include "engine.h"

static gowsgi_app *gowsgi_app_new(void) { return calloc(1, sizeof(gowsgi_app)); }

// Installs a freshly loaded callable; the old one is released. GIL held.
// The fast path sees the new mtime only once the callable is in place.
static void gowsgi_app_swap(gowsgi_app *app, PyObject *callable, PyObject *module, long long mtime)
{
	PyObject *old_callable = app->callable, *old_module = app->module;
	app->callable = callable;
	app->module = module;
	__atomic_store_n(&app->mtime, mtime, __ATOMIC_RELEASE);
	__atomic_store_n(&app->loaded, 1, __ATOMIC_RELEASE);
	Py_XDECREF(old_callable);
	Py_XDECREF(old_module);
}
*/
import "C"

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	python3 "github.com/go-python/cpy3"
)

// app is one WSGI script (and callable name) loaded in one interpreter.
type app struct {
	it       *interp
	script   string
	callable string // "" for WSGIImportScript: import only
	c        *C.gowsgi_app

	loadMu sync.Mutex  // one loader at a time; requests never wait on it once loaded
	fast   atomic.Bool // registered with the C fast path
}

func newCApp() *C.gowsgi_app { return C.gowsgi_app_new() }

// loadFailingSince is when a script first failed to load in this process
// (microseconds; 0 while loads succeed): a daemon process restarts after
// startup-timeout of that (mod_wsgi's remedy for half-loaded Django, #198).
var loadFailingSince atomic.Int64

// moduleName is mod_wsgi's name for a script's module, so code that looks
// itself up in sys.modules keeps working. With WSGICaseSensitivity On (the
// default on Linux) mod_wsgi 4.9.4 hashes the lower-cased path, and so
// does this.
func moduleName(script string) string {
	if eng.caseSensitivity {
		script = strings.ToLower(script)
	}
	sum := md5.Sum([]byte(script))
	return "_mod_wsgi_" + hex.EncodeToString(sum[:])
}

// current reports whether the loaded script can serve a request that saw
// the file at mtime. The state lives in C (gowsgi_app), its one owner, which
// the fast path reads without entering Go.
func (a *app) current(mtime int64, reloading bool) bool {
	r := C.int(0)
	if reloading {
		r = 1
	}
	return C.gowsgi_app_current(a.c, C.longlong(mtime), r) != 0
}

// load imports (or re-imports) the script. Returns an HTTP status: 0 when
// the app is ready, 500 when loading failed (logged, with the traceback),
// 404 when the script lacks the callable (as mod_wsgi).
func (a *app) load(log logLine, req *C.gowsgi_request, mtime int64, reloading bool) int {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	if a.current(mtime, reloading) {
		return 0
	}
	status := 0
	a.it.withGIL(func() {
		status = a.loadLocked(log, req, mtime, reloading)
	})
	return status
}

func (a *app) loadLocked(log logLine, req *C.gowsgi_request, mtime int64, reloading bool) int {
	name := moduleName(a.script)
	modules := python3.PyImport_GetModuleDict()
	module := python3.PyDict_GetItemString(modules, name) // borrowed
	if module != nil && reloading && !moduleCurrent(module, mtime) {
		// Embedded reload: only the script's own module is replaced, in place.
		python3.PyDict_DelItemString(modules, name)
		module = nil
	}
	if module != nil {
		module.IncRef()
	} else {
		log(logInfo, fmt.Sprintf("GW0424: gowsgi (pid=%d, process='%s', application='%s'): Loading Python script file '%s'.",
			os.Getpid(), eng.group, a.it.name, a.script))
		var err error
		if module, err = execScript(name, a.script, mtime); err != nil {
			a.logFailure(log, req, err)
			loadFailingSince.CompareAndSwap(0, time.Now().UnixMicro())
			return 500
		}
		loadFailingSince.Store(0)
	}
	var callable *python3.PyObject
	if a.callable != "" {
		callable = module.GetAttrString(a.callable)
		if callable == nil {
			python3.PyErr_Clear()
			module.DecRef()
			log(logErr, fmt.Sprintf("GW0425: gowsgi (pid=%d): Target WSGI script '%s' does not contain WSGI application '%s'.",
				os.Getpid(), a.script, a.callable))
			return 404 // mod_wsgi's status: the resource has no application
		}
	}
	C.gowsgi_app_swap(a.c, (*C.PyObject)(unsafe.Pointer(callable)), (*C.PyObject)(unsafe.Pointer(module)), C.longlong(mtime))
	return 0
}

// errReadCompile marks a script that could not be read or compiled (a
// Python exception is pending), which mod_wsgi reports in its own words.
var errReadCompile = errors.New("could not read/compile source file")

// logFailure reports a script that would not load, with the Python traceback
// when there is one, in mod_wsgi's words for each stage.
func (a *app) logFailure(log logLine, req *C.gowsgi_request, err error) {
	if errors.Is(err, errReadCompile) {
		log(logErr, fmt.Sprintf("GW0426: gowsgi (pid=%d, process='%s', application='%s'): Could not read/compile source file '%s'.",
			os.Getpid(), eng.group, a.it.name, a.script))
	} else if python3.PyErr_Occurred() != nil && python3.PyErr_ExceptionMatches(python3.PyExc_SystemExit) {
		log(logErr, fmt.Sprintf("GW0427: gowsgi (pid=%d): SystemExit exception raised when doing exec of Python script file '%s'.", os.Getpid(), a.script))
	} else {
		log(logErr, fmt.Sprintf("GW0428: gowsgi (pid=%d): Failed to exec Python script file '%s'.", os.Getpid(), a.script))
	}
	if python3.PyErr_Occurred() == nil {
		log(logErr, fmt.Sprintf("GW0422: gowsgi (pid=%d): %v", os.Getpid(), err))
		return
	}
	head := C.CString(fmt.Sprintf("GW0429: gowsgi (pid=%d): Exception occurred processing WSGI script '%s'.",
		os.Getpid(), a.script))
	defer C.free(unsafe.Pointer(head))
	C.gowsgi_log_exception_as(req, head) // logno: above
}

// moduleCurrent reports whether a module in sys.modules was loaded from the
// source at mtime (mod_wsgi's __mtime__ convention).
func moduleCurrent(module *python3.PyObject, mtime int64) bool {
	v := module.GetAttrString("__mtime__")
	if v == nil {
		python3.PyErr_Clear()
		return false
	}
	defer v.DecRef()
	return python3.PyLong_AsLongLong(v) == mtime
}

// execScript compiles and runs the script file as module name. On failure
// the Python exception is left pending; a script that cannot be read or
// compiled gives errReadCompile.
func execScript(name, script string, mtime int64) (*python3.PyObject, error) {
	builtins := python3.PyImport_ImportModule("builtins")
	if builtins == nil {
		return nil, fmt.Errorf("import builtins failed")
	}
	defer builtins.DecRef()
	source, err := os.ReadFile(script)
	if err != nil {
		// Python's own exception (FileNotFoundError, PermissionError, ...),
		// as mod_wsgi reads the file through Python's io.open.
		path := python3.PyUnicode_FromString(script)
		rb := python3.PyUnicode_FromString("rb")
		f := builtins.CallMethodArgs("open", path, rb)
		path.DecRef()
		rb.DecRef()
		if f != nil {
			f.CallMethodArgs("close").DecRef()
			f.DecRef()
		}
		return nil, fmt.Errorf("reading WSGI script: %w (%w)", err, errReadCompile)
	}
	// From pointer and length: a NUL byte must reach compile(), which
	// rejects it as mod_wsgi's does, not silently end the source.
	src := (*python3.PyObject)(unsafe.Pointer(C.PyBytes_FromStringAndSize((*C.char)(unsafe.Pointer(unsafe.SliceData(source))), C.Py_ssize_t(len(source)))))
	if src == nil {
		return nil, fmt.Errorf("reading WSGI script %s: out of memory", script)
	}
	file := python3.PyUnicode_FromString(script)
	mode := python3.PyUnicode_FromString("exec")
	defer src.DecRef()
	defer file.DecRef()
	defer mode.DecRef()
	code := builtins.CallMethodArgs("compile", src, file, mode)
	if code == nil {
		return nil, fmt.Errorf("compiling %s: %w", script, errReadCompile)
	}
	defer code.DecRef()
	module := python3.PyImport_ExecCodeModuleEx(name, code, script)
	if module == nil {
		return nil, fmt.Errorf("executing %s failed", script)
	}
	stamp := python3.PyLong_FromLongLong(mtime)
	module.SetAttrString("__mtime__", stamp)
	stamp.DecRef()
	return module, nil
}
