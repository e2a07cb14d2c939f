package wsgi

/*
#include "engine.h"

static void gowsgi_log_process_fn(void (*fn)(int, const char *, size_t), int level, const char *msg, size_t len)
{
	if (fn != NULL)
		fn(level, msg, len);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// engine is this process's state. Python starts at most once per process.
type engine struct {
	mu        sync.RWMutex // guards interps
	interps   map[string]*interp
	createMu  sync.Mutex // serialises interpreter creation; guards nextIndex
	nextIndex int
	embedded  bool
	daemon    bool   // a daemon process (DaemonMain), not an Apache child
	group     string // the daemon process group this process serves; "" in Apache's children

	pythonPath []string
	pathFirst  string // a daemon's home=: sys.path[0] of every interpreter
	// caseSensitivity: WSGICaseSensitivity, which lower-cases script paths
	// before naming their modules; verbose: WSGIVerboseDebugging.
	caseSensitivity bool
	verbose         bool
	logFn           *[0]byte // gowsgi_init.log
}

var eng = &engine{interps: map[string]*interp{}}

// processLog writes one line to Apache's error log, attributed to the process.

// pythonExecutable is the interpreter whose prefix Python adopts when no
// WSGIPythonHome names one: the build's Debian python3 (the Makefile sets it
// with -X), so sys.prefix, sys.executable and the system site-packages are
// those of the Python gowsgi links, whatever PATH Apache runs with. Unset,
// it is "python3" found on PATH, as mod_wsgi leaves it.
var pythonExecutable = "python3"

func processLog(level int, msg string) {
	if eng.logFn == nil {
		return
	}
	m := C.CString(msg)
	C.gowsgi_log_process_fn(eng.logFn, C.int(level), m, C.size_t(len(msg))) // logno: relayed, msg's
	C.free(unsafe.Pointer(m))
}

// Init starts the engine in an Apache child: called once, from child_init on
// the process's main thread, or at the child's first embedded request on a
// thread of its own (cshim/engine_load.c): Python's main thread is the one
// that initialises it, and must never be one of Apache's workers.
func Init(p unsafe.Pointer, errbuf unsafe.Pointer, errlen int) error {
	init := (*C.gowsgi_init)(p)
	if init.abi_version != C.GOWSGI_ABI_VERSION {
		return fmt.Errorf("mod_gowsgi.so speaks ABI %d but libgowsgi.so speaks %d: install both from one build",
			int(init.abi_version), int(C.GOWSGI_ABI_VERSION))
	}
	// Apache's threads call into Go; each needs a P while it does, and a P
	// parked in a long cgo call (a running app) is not free for another.
	// A daemon process's workers never do (DaemonMain sets its own).
	if !eng.daemon {
		runtime.GOMAXPROCS(int(init.max_threads) + 2)
	}
	eng.logFn = (*[0]byte)(unsafe.Pointer(init.log))
	eng.embedded = init.embedded != 0
	if init.process_group != nil {
		eng.group = C.GoString(init.process_group)
	}
	if !eng.embedded {
		return nil
	}
	if init.path_first != nil {
		eng.pathFirst = C.GoString(init.path_first)
	}
	if init.python_path != nil {
		eng.pythonPath = splitPath(C.GoString(init.python_path))
	}
	eng.caseSensitivity = init.case_sensitivity != 0
	eng.verbose = init.verbose_debugging != 0

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// A daemon group's own Python (its virtualenv's, or python-executable=)
	// gives the prefix; else the interpreter this build was made for.
	program := pythonExecutable
	if init.python_executable != nil {
		program = C.GoString(init.python_executable)
	}
	executable := C.CString(program)
	defer C.free(unsafe.Pointer(executable))
	if C.gowsgi_py_initialize(init, executable, (*C.char)(errbuf), C.size_t(errlen)) != 0 {
		return fmt.Errorf("%s", C.GoString((*C.char)(errbuf)))
	}
	main := &interp{c: C.gowsgi_interp_main(), name: "", apps: map[appKey]*app{}}
	if err := main.prepare(); err != nil {
		return fmt.Errorf("preparing the main interpreter: %w", err)
	}
	eng.interps[""] = main
	eng.nextIndex = 1
	if init.slow_requests != nil {
		go watchSlowRequests()
	}
	if init.telemetry_target != nil {
		go reportTelemetry(time.Duration(init.telemetry_interval_ms) * time.Millisecond)
	}

	imports := unsafe.Slice(init.imports, int(init.nimports))
	for _, imp := range imports {
		importScript(&imp)
	}
	return nil
}

// importScript loads a WSGIImportScript file, or preloads an aliased script,
// at process start. A failure is logged; the process carries on as mod_wsgi's.
func importScript(imp *C.gowsgi_import) {
	group := C.GoString(imp.application_group)
	script := C.GoString(imp.script)
	where := C.GoString(imp.where)
	it, err := eng.interpreter(group)
	if err != nil {
		processLog(logErr, fmt.Sprintf("GW0015: gowsgi: WSGIImportScript at %s: %v", where, err))
		return
	}
	callable := ""
	if imp.callable_object != nil {
		callable = C.GoString(imp.callable_object)
	}
	st, err := os.Stat(script)
	if err != nil {
		processLog(logErr, fmt.Sprintf("GW0015: gowsgi: WSGIImportScript at %s: %v", where, err))
		return
	}
	a := it.app(script, callable)
	a.load(processLog, nil, st.ModTime().UnixMicro(), true)
}

// interpreter returns the interpreter of an application group, creating it
// on first use.
func (e *engine) interpreter(group string) (*interp, error) {
	e.mu.RLock()
	it := e.interps[group]
	e.mu.RUnlock()
	if it != nil {
		return it, nil
	}
	// Creation has its own lock: requests for existing groups go on while a
	// new interpreter is made (which waits for the GIL and imports site).
	e.createMu.Lock()
	defer e.createMu.Unlock()
	e.mu.RLock()
	it = e.interps[group]
	e.mu.RUnlock()
	if it != nil {
		return it, nil
	}
	group = strings.Clone(group) // the caller's may be a view of C memory
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var errbuf [1024]C.char
	cname := C.CString(group)
	defer C.free(unsafe.Pointer(cname))
	// An index is never reused, even after a failure: this thread may have
	// cached a thread state for it.
	index := e.nextIndex
	e.nextIndex++
	c := C.gowsgi_interp_create(cname, C.int(index), &errbuf[0], C.size_t(len(errbuf)))
	if c == nil {
		return nil, fmt.Errorf("creating interpreter for application group '%s': %s", group, C.GoString(&errbuf[0]))
	}
	it = &interp{c: c, name: group, apps: map[appKey]*app{}}
	if err := it.prepare(); err != nil {
		// Kept and used, as mod_wsgi does: a new interpreter per request
		// would only fail the same way and grow without bound.
		processLog(logErr, fmt.Sprintf("GW0016: gowsgi (pid=%d): interpreter '%s': %v", os.Getpid(), group, err))
	}
	ownGIL := ""
	if c.own_gil != 0 {
		ownGIL = " with own GIL" // mod_wsgi 6's note on the same line
	}
	processLog(logInfo, fmt.Sprintf("GW0017: gowsgi (pid=%d): Create interpreter '%s'%s.", os.Getpid(), group, ownGIL))
	e.mu.Lock()
	e.interps[group] = it
	e.mu.Unlock()
	return it, nil
}
