/*
 * modules.c: the `mod_wsgi` and `apache` modules that apps and APM agents
 * import to learn where they run. Only attributes gowsgi can answer truly are
 * offered (see README); the event and metrics API is events.c and metrics.c.
 */
#include "engine.h"

static int add(PyObject *m, const char *name, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyModule_AddObjectRef(m, name, v);
    Py_DECREF(v);
    return rc;
}

static int install(const char *name, PyObject *m)
{
    PyObject *modules = PyImport_GetModuleDict();
    int rc = PyDict_SetItemString(modules, name, m);
    Py_DECREF(m);
    return rc;
}

int gowsgi_modules_install(gowsgi_interp *it)
{
    const int *av = gowsgi_config.apache_version;

    PyObject *m = PyModule_New("mod_wsgi");
    if (m == NULL)
        return -1;
    if (add(m, "version", Py_BuildValue("(iii)", 4, 9, 4)) != 0 ||
        add(m, "gowsgi_version", Py_BuildValue("(iii)", 0, 1, 0)) != 0 ||
        /* Latin-1, as mod_wsgi decodes them: a name is bytes from the
         * configuration or the request, not always UTF-8. */
        add(m, "process_group", PyUnicode_DecodeLatin1(gowsgi_config.process_group,
                                                       (Py_ssize_t)strlen(gowsgi_config.process_group), NULL)) != 0 ||
        add(m, "application_group", PyUnicode_DecodeLatin1(it->name, (Py_ssize_t)strlen(it->name), NULL)) != 0 ||
        add(m, "maximum_processes", PyLong_FromLong(gowsgi_config.max_processes)) != 0 ||
        add(m, "threads_per_process", PyLong_FromLong(gowsgi_config.threads_per_process)) != 0 ||
        PyModule_AddObjectRef(m, "FileWrapper", (PyObject *)it->types[GOWSGI_T_FILE_WRAPPER]) != 0 ||
        gowsgi_events_install(it, m) != 0 || gowsgi_six_api_install(it, m) != 0) {
        Py_DECREF(m);
        return -1;
    }
    if (install("mod_wsgi", m) != 0)
        return -1;

    m = PyModule_New("apache");
    if (m == NULL)
        return -1;
    if (add(m, "version", Py_BuildValue("(iii)", av[0], av[1], av[2])) != 0 ||
        add(m, "description", PyUnicode_FromString(gowsgi_config.server_description)) != 0 ||
        add(m, "mpm_name", PyUnicode_FromString(gowsgi_config.mpm_name)) != 0 ||
        add(m, "build_date", PyUnicode_FromString(gowsgi_config.server_built)) != 0 ||
        add(m, "maximum_processes", PyLong_FromLong(gowsgi_config.apache_max_processes)) != 0 ||
        add(m, "threads_per_process", PyLong_FromLong(gowsgi_config.apache_threads_per_process)) != 0) {
        Py_DECREF(m);
        return -1;
    }
    return install("apache", m);
}
