/*
 * log_modwsgi6.c: a request's log lines as mod_wsgi 6.0.5 writes them,
 * under GoWSGICompatibility 6 (cshim/modwsgi_compat.c). 6.0 prefixes what
 * the application writes (wsgi.errors, sys.stdout, sys.stderr) with
 * "[script <file>] ", and heads an exception's report with the script,
 * the exception's type and the interpreter instead of 4.9.4's
 * "mod_wsgi (pid=N): Exception occurred processing WSGI script '<file>'."
 * 6.0's message ids (WSGI0174:) are not written here: the head line
 * carries gowsgi's own (logno.h), the application's lines none. Unlike 6.0.5, which
 * prints only the exception's last line, the traceback follows as under
 * 4.9.4's rule (README, "mod_wsgi 4.9.4 vs 6.0").
 */
#include "engine.h"

void gowsgi_log_modwsgi6_line(const gowsgi_request *req, int level, const char *s, size_t n)
{
    char stack[1024];
    size_t head = strlen(req->script) + 10;   /* "[script " + "] " */
    size_t len = head + n;
    char *line = len <= sizeof(stack) ? stack : PyMem_RawMalloc(len);
    if (line == NULL) {
        req->io->log(req->ctx, level, s, n);   /* the line, if not its prefix; logno: none, the app's */
        return;
    }
    snprintf(line, head + 1, "[script %s] ", req->script);
    memcpy(line + head, s, n);
    req->io->log(req->ctx, level, line, len);   /* logno: none, the app's */
    if (line != stack)
        PyMem_RawFree(line);
}

void gowsgi_log_modwsgi6_exception(const gowsgi_request *req)
{
    PyObject *type = PyErr_Occurred();   /* borrowed */
    const char *name = type != NULL ? ((PyTypeObject *)type)->tp_name : "Exception";
    int exit = type != NULL && PyErr_GivenExceptionMatches(type, PyExc_SystemExit);
    char interp[1100], head[4096];
    if (req->application_group[0] != '\0')
        snprintf(interp, sizeof(interp), "sub-interpreter '%s'", req->application_group);
    else
        snprintf(interp, sizeof(interp), "main interpreter");
    char context[1400];
    if (req->process_group[0] != '\0')
        snprintf(context, sizeof(context), "%s of daemon process '%s'", interp, req->process_group);
    else
        snprintf(context, sizeof(context), "%s in embedded mode", interp);
    snprintf(head, sizeof(head),
             exit ? GOWSGI_LOGNO(0433) "[script %s] %s exception raised by WSGI script '%s' for %s; ignored."
                  : GOWSGI_LOGNO(0434) "[script %s] %s exception raised processing WSGI script '%s' for %s.",
             req->script, name, req->script, context);
    gowsgi_log_exception_as(req, head);   /* logno: above */
}
