package tests

// Log message ids (issue 17 item 7): every line gowsgi writes to the error
// log begins with its own stable id, GW + 4 digits, written
// GOWSGI_LOGNO(nnnn) in C (wsgi/logno.h) and as the literal's first
// characters in Go, and each id is documented in docs/log-messages.md.
// This test reads the source, not a server: it fails when a log call has no
// id, when one id names two messages (or one message two ids), and when the
// reference page and the source disagree about which ids exist.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// logCallSite is one call that writes a line to the error log, and the
// argument that holds the line (or its format).
type logCallSite struct {
	re  *regexp.Regexp // matches up to and including the call's "("
	arg int            // the message argument's index (from the end if negative)
	// onlyIf, when set, picks the calls that begin a line (a line
	// written in pieces): their message argument matches it.
	onlyIf *regexp.Regexp
}

// logCalls are every way gowsgi writes a line. A call whose message is not
// a literal with an id (a line relayed, or built by snprintf above) says
// where its id comes from in a "logno:" comment on its line or the line
// before.
var logCalls = []logCallSite{
	{regexp.MustCompile(`\bap_log_(?:r|p|c)?error\(`), 4, nil},
	{regexp.MustCompile(`\bgowsgi_log_processf\(`), 1, nil},
	{regexp.MustCompile(`->log\(`), 2, nil},
	{regexp.MustCompile(`\bgowsgi_config\.log\(`), 1, nil},
	{regexp.MustCompile(`\bgowsgi_log_exception(?:_as)?\(`), 1, nil},
	{regexp.MustCompile(`\bgowsgi_errorlog_write\(`), 4, nil},
	{regexp.MustCompile(`\bgowsgi_log_process_fn\(`), 2, nil},
	{regexp.MustCompile(`\bwrite_all\(cr\.log_fd,`), 0, regexp.MustCompile(`^(?:GOWSGI_LOGNO|"gowsgi|[A-Z_]+$)`)}, // crash_report.c: the line's head
	{regexp.MustCompile(`(?:^|[^\w.>])(?:processLog|log)\(`), 1, nil},
	{regexp.MustCompile(`(?:^|[^\w.>])log_line\(`), -2, nil}, // (req,) level, msg, len
	{regexp.MustCompile(`\brefuse\(r, HTTP_\w+,`), 0, nil},   // cshim/handler.c
	{regexp.MustCompile(`\breport_error\(&rs,`), 0, nil},     // wsgi/runner.c
	{regexp.MustCompile(`\bhook_log\(h,`), 0, nil},           // wsgi/hooks.c
	{regexp.MustCompile(`\brequestLogger\([^()]*\)\(`), 1, nil},
	{regexp.MustCompile(`\bfmt\.Fprint(?:f|ln)?\(os\.Stderr,`), 0, nil},
	{regexp.MustCompile(`\bf(?:printf|puts)\(stderr,`), 0, nil},
}

// logSourceFiles are the files whose lines reach the error log: the shim,
// the engine (C and Go), the launcher and the Go module.
func logSourceFiles(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"cshim/*.c", "cshim/*.h", "wsgi/*.c", "wsgi/*.h", "wsgi/launcher/*.c",
		"wsgi/*.go", "module/*.go"} {
		m, err := filepath.Glob(filepath.Join(repoRoot(), pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	return files
}

// blankComments returns src with comments replaced by spaces (newlines
// kept, so offsets and line numbers hold) and each line's comment text.
func blankComments(src string) (string, map[int]string) {
	b := []byte(src)
	comments := map[int]string{}
	line := 1
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			line++
		case b[i] == '"' || b[i] == '\'' || b[i] == '`':
			q := b[i]
			for i++; i < len(b) && b[i] != q; i++ {
				if b[i] == '\\' && q != '`' {
					i++
				} else if b[i] == '\n' {
					line++
				}
			}
		case b[i] == '/' && i+1 < len(b) && (b[i+1] == '/' || b[i+1] == '*'):
			block := b[i+1] == '*'
			start := i
			for ; i < len(b); i++ {
				if !block && b[i] == '\n' {
					break
				}
				if block && b[i] == '*' && i+1 < len(b) && b[i+1] == '/' {
					i++
					break
				}
			}
			end := i // the comment's last byte
			if end >= len(b) || !block {
				end-- // a line comment ends before its newline
			}
			l := line
			for j := start; j <= end && j < len(b); j++ {
				if b[j] == '\n' {
					l++
					line++
					continue
				}
				comments[l] += string(b[j])
				b[j] = ' '
			}
			if !block {
				i-- // the newline is counted by the loop
			}
		}
	}
	return string(b), comments
}

// callArgs splits the arguments of a call whose "(" ends at open.
func callArgs(src string, open int) []string {
	var args []string
	depth, start := 0, open
	for i := open; i < len(src); i++ {
		switch c := src[i]; c {
		case '"', '\'', '`':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' && c != '`' {
					i++
				}
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				return append(args, strings.TrimSpace(src[start:i]))
			}
			depth--
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(src[start:i]))
				start = i + 1
			}
		}
	}
	return args
}

var (
	cLogno      = regexp.MustCompile(`GOWSGI_LOGNO\(([0-9]+)\)`)
	goLogno     = regexp.MustCompile("[\"`]GW([0-9]{4}): ")
	cDefine     = regexp.MustCompile(`(?m)^#define\s+(\w+)\s*\\?\s*(\S[^\n]*)`)
	literalHead = regexp.MustCompile(`^(?:fmt\.Sprintf\(|apr_psprintf\([^,]*,\s*)?(?:GOWSGI_LOGNO\(([0-9]{4})\)\s*"|"GW([0-9]{4}): )`)
	literalText = regexp.MustCompile("^\\s*(?:\\+\\s*)?(\"(?:[^\"\\\\\\n]|\\\\.)*\"|`[^`]*`)")
)

// literalsAfter joins the string literals that follow pos (C's adjacent
// literals, Go's "a" + "b"): the message an id names.
func literalsAfter(src string, pos int) string {
	var sb strings.Builder
	rest := src[pos:]
	for {
		m := literalText.FindStringSubmatchIndex(rest)
		if m == nil {
			break
		}
		lit := rest[m[2]:m[3]]
		sb.WriteString(lit[1 : len(lit)-1])
		rest = rest[m[1]:]
		// Line continuations of a macro's body.
		rest = strings.TrimLeft(rest, " \t\\\n")
	}
	return sb.String()
}

type logID struct {
	id    string
	text  string
	where string
}

type logScan struct {
	ids      []logID  // every id written in the source, with its message
	problems []string // log calls without an id
}

func scanLogIDs(t testing.TB) logScan {
	var scan logScan
	defines := map[string]string{}
	type file struct{ name, code string }
	var files []file
	comments := map[string]map[int]string{}
	for _, f := range logSourceFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code, com := blankComments(string(raw))
		rel, _ := filepath.Rel(repoRoot(), f)
		files = append(files, file{rel, code})
		comments[rel] = com
		for _, m := range cDefine.FindAllStringSubmatch(code, -1) {
			defines[m[1]] = m[2]
		}
	}
	lineOf := func(code string, pos int) int { return strings.Count(code[:pos], "\n") + 1 }
	for _, f := range files {
		code := f.code
		for _, re := range []*regexp.Regexp{cLogno, goLogno} {
			for _, m := range re.FindAllStringSubmatchIndex(code, -1) {
				id := code[m[2]:m[3]]
				textAt := m[1]
				if re == goLogno {
					textAt = m[0] // the literal, id and all
				}
				text := literalsAfter(code, textAt)
				if re == goLogno {
					text = strings.TrimPrefix(text, "GW"+id+": ")
				}
				if strings.HasPrefix(code[max(0, m[0]-8):m[0]], "define ") || strings.Contains(code[max(0, m[0]-30):m[0]], "#define GOWSGI_LOGNO") {
					continue // the macro itself
				}
				where := fmt.Sprintf("%s:%d", f.name, lineOf(code, m[0]))
				if len(id) != 4 {
					scan.problems = append(scan.problems, where+": an id has 4 digits: "+id)
				}
				scan.ids = append(scan.ids, logID{"GW" + id, text, where})
			}
		}
		for _, c := range logCalls {
			for _, m := range c.re.FindAllStringIndex(code, -1) {
				line := lineOf(code, m[0])
				before := code[max(0, m[0]-12):m[0]]
				if strings.Contains(before, "func") || strings.Contains(before, "void ") || strings.Contains(before, "static ") {
					continue // a definition, not a call
				}
				args := callArgs(code, m[1])
				where := fmt.Sprintf("%s:%d", f.name, line)
				idx := c.arg
				if idx < 0 {
					idx += len(args)
				}
				if idx < 0 || idx >= len(args) {
					scan.problems = append(scan.problems, where+": cannot read the log call's arguments")
					continue
				}
				msg := args[idx]
				if c.onlyIf != nil && !c.onlyIf.MatchString(msg) {
					continue
				}
				if literalHead.MatchString(msg) {
					continue
				}
				if body, ok := defines[msg]; ok && strings.HasPrefix(body, "GOWSGI_LOGNO(") {
					continue
				}
				com := comments[f.name]
				if strings.Contains(com[line], "logno:") || strings.Contains(com[line-1], "logno:") {
					continue
				}
				scan.problems = append(scan.problems, fmt.Sprintf("%s: a log call without an id: %s", where, strings.Join(strings.Fields(msg), " ")))
			}
		}
	}
	return scan
}

// documentedLogIDs reads docs/log-messages.md: each id is a "### GWnnnn"
// heading, "(retired)" after it for a number no longer used; the message
// is the heading's next code span.
func documentedLogIDs(t testing.TB) (live map[string]string, retired map[string]bool) {
	live, retired, dups, err := readDocumentedLogIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range dups {
		t.Errorf("docs/log-messages.md documents %s twice", id)
	}
	return live, retired
}

func readDocumentedLogIDs() (live map[string]string, retired map[string]bool, dups []string, err error) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "log-messages.md"))
	if err != nil {
		return nil, nil, nil, err
	}
	live, retired = map[string]string{}, map[string]bool{}
	head := regexp.MustCompile("(?m)^### (GW[0-9]{4})(.*)\n+(?:[^\n]*?`([^`\n]*)`)?")
	for _, m := range head.FindAllStringSubmatch(string(raw), -1) {
		if _, dup := live[m[1]]; dup || retired[m[1]] {
			dups = append(dups, m[1])
		}
		if strings.Contains(m[2], "retired") {
			retired[m[1]] = true
		} else {
			live[m[1]] = m[3]
		}
	}
	return live, retired, dups, nil
}

func TestLogIDs_EveryLineHasOne(t *testing.T) {
	scan := scanLogIDs(t)
	for _, p := range scan.problems {
		t.Error(p)
	}
	if len(scan.ids) < 100 {
		t.Errorf("found only %d ids in the source: is the scanner still reading it?", len(scan.ids))
	}
}

func TestLogIDs_OneMessageEach(t *testing.T) {
	scan := scanLogIDs(t)
	byID := map[string]logID{}
	byText := map[string]logID{}
	for _, l := range scan.ids {
		if o, ok := byID[l.id]; ok && o.text != l.text {
			t.Errorf("%s names two messages:\n  %s: %q\n  %s: %q", l.id, o.where, o.text, l.where, l.text)
		}
		byID[l.id] = l
		if o, ok := byText[l.text]; ok && o.id != l.id {
			t.Errorf("one message has two ids, %s (%s) and %s (%s): %q", o.id, o.where, l.id, l.where, l.text)
		}
		byText[l.text] = l
	}
}

func TestLogIDs_Documented(t *testing.T) {
	scan := scanLogIDs(t)
	live, retired := documentedLogIDs(t)
	used := map[string]logID{}
	for _, l := range scan.ids {
		used[l.id] = l
	}
	var skeleton strings.Builder
	for _, id := range logSortedKeys(used) {
		l := used[id]
		doc, ok := live[id]
		switch {
		case retired[id]:
			t.Errorf("%s is retired in docs/log-messages.md but %s uses it: a new message takes a new number", id, l.where)
		case !ok:
			t.Errorf("%s (%s) is not in docs/log-messages.md", id, l.where)
			fmt.Fprintf(&skeleton, "### %s\n\n`%s`\n\n%s\n\n", id, strings.ReplaceAll(l.text, `\"`, `"`), l.where)
		case !strings.HasPrefix(doc, strings.ReplaceAll(l.text, `\"`, `"`)): // the page may add what follows (a relayed "why: path")
			t.Errorf("%s: docs/log-messages.md says `%s` but %s writes `%s`", id, doc, l.where, l.text)
		}
	}
	for _, id := range logSortedKeys(live) {
		if _, ok := used[id]; !ok {
			t.Errorf("docs/log-messages.md documents %s but no source writes it: mark it (retired)", id)
		}
	}
	if skeleton.Len() > 0 && os.Getenv("GOWSGI_LOGIDS_SKELETON") != "" {
		t.Logf("entries to complete:\n%s", skeleton.String())
	}
}

func logSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var (
	// [date] [gowsgi:level] [pid N(:tid N)] ([client|remote ip:port] )
	gowsgiLogPrefix = regexp.MustCompile(`^\[[^\]]+\] \[gowsgi:[a-z0-9]+\] \[pid [^\]]+\] (?:\[(?:client|remote) [^\]]+\] )?`)
	logIDHead       = regexp.MustCompile(`^GW([0-9]{4}): `)
	// How gowsgi's own lines begin after their id: one of these without
	// an id is a log call that has none. Anything else is what the
	// application wrote (wsgi.errors, stderr, logging, a traceback).
	gowsgiOwnHead = regexp.MustCompile(`^(?:gowsgi[:( ]|mod_wsgi \(pid=|Exception occurred|\[script [^\]]*\] \S+ exception raised|` +
		`Queue timeout expired|Request interrupted after|Maximum number of WSGI)`)
	docIDsOnce sync.Once
	docIDs     map[string]string
)

// unnumberedLogLines returns the lines of an error log that gowsgi wrote
// without an id, or with one docs/log-messages.md does not list. A line
// gowsgi writes outside Apache's format (a crash line on stderr) counts too.
func unnumberedLogLines(log string) []string {
	docIDsOnce.Do(func() { docIDs, _, _, _ = readDocumentedLogIDs() })
	var bad []string
	for _, line := range strings.Split(log, "\n") {
		rest := ""
		if m := gowsgiLogPrefix.FindString(line); m != "" {
			rest = line[len(m):]
		} else if strings.HasPrefix(line, "gowsgi") || logIDHead.MatchString(line) {
			rest = line
		} else {
			continue
		}
		if m := logIDHead.FindStringSubmatch(rest); m != nil {
			if _, ok := docIDs["GW"+m[1]]; !ok {
				bad = append(bad, "id not in docs/log-messages.md: "+line)
			}
			continue
		}
		if gowsgiOwnHead.MatchString(rest) {
			bad = append(bad, "no id: "+line)
		}
	}
	return bad
}

// checkLogIDs reads every error log under a server's root (the main one
// and the virtual hosts' and daemon groups' own).
func checkLogIDs(a *Apache) []string {
	files, _ := filepath.Glob(filepath.Join(a.Root, "*.log"))
	var bad []string
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "access") {
			continue
		}
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, l := range unnumberedLogLines(string(b)) {
			bad = append(bad, filepath.Base(f)+": "+l)
		}
	}
	return bad
}

func TestLogIDs_HarnessCheckCatches(t *testing.T) {
	good := "[Sun Dec 06 23:19:44.638648 2026] [gowsgi:info] [pid 25176:tid 25184] [client 127.0.0.1:36982] " +
		"GW0400: gowsgi (pid=1): Client denied by server configuration: '/x'.\n" +
		"[Sun Dec 06 23:19:44.654720 2026] [gowsgi:error] [pid 25176:tid 25184] [client 127.0.0.1:36982]   File \"x\", line 12\n" +
		"[Sun Dec 06 23:19:44.654720 2026] [gowsgi:error] [pid 25176] [remote 127.0.0.1:1] IMPORT-STDERR\n"
	assert.Empty(t, unnumberedLogLines(good))
	for _, line := range []string{
		"[Sun Dec 06 23:19:44.859316 2026] [gowsgi:info] [pid 25211:tid 25211] gowsgi: a new message",
		"[Sun Dec 06 23:19:44.859316 2026] [gowsgi:error] [pid 2:tid 2] [client 127.0.0.1:1] gowsgi (pid=2): new",
		"[Sun Dec 06 23:19:44.859316 2026] [gowsgi:error] [pid 2] [remote 127.0.0.1:1] mod_wsgi (pid=2): as 6",
		"[Sun Dec 06 23:19:44.859316 2026] [gowsgi:info] [pid 25211:tid 25211] GW9999: gowsgi: undocumented",
		"gowsgi: Apache child (pid 3) crashed: signal 11",
	} {
		assert.Len(t, unnumberedLogLines(line), 1, line)
	}
}
