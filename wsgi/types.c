/*
 * types.c: the engine's Python types (mod_wsgi.Log, Restricted, Input,
 * StartResponse, FileWrapper) as each interpreter sees them. An
 * interpreter that shares the process's GIL uses the static definitions
 * the files beside this one write, readied once (as mod_wsgi's, so their
 * surface is mod_wsgi's). An interpreter with its own GIL (PEP 684) gets
 * heap types made from them: a static type is one object for the whole
 * process, and interpreters running at once would race on its reference
 * count and its dict, and free its methods' descriptors into another
 * interpreter's allocator. CPython asks this of an extension that
 * supports such interpreters (PEP 684, 630). The one visible difference
 * there: a heap type keeps __module__ in its dict, so dir() lists it.
 *
 * And which gowsgi_interp is the current thread's, by interpreter id, for
 * the code that makes objects without being handed one.
 */
#include "engine.h"

#define BY_ID_MAX 4096

static gowsgi_interp *by_id[BY_ID_MAX];

static PyTypeObject *const templates[GOWSGI_NTYPES] = {
    [GOWSGI_T_LOG] = &gowsgi_LogType,
    [GOWSGI_T_RESTRICTED] = &gowsgi_RestrictedType,
    [GOWSGI_T_INPUT] = &gowsgi_InputType,
    [GOWSGI_T_START_RESPONSE] = &gowsgi_StartResponseType,
    [GOWSGI_T_FILE_WRAPPER] = &gowsgi_FileWrapperType,
};

static PyTypeObject *heap_type(const PyTypeObject *t)
{
    PyType_Slot slots[10];
    int n = 0;
#define SLOT(id, field)                                                                                         \
    if (t->field != NULL)                                                                                       \
        slots[n++] = (PyType_Slot){id, (void *)t->field};
    SLOT(Py_tp_dealloc, tp_dealloc)
    SLOT(Py_tp_getattro, tp_getattro)
    SLOT(Py_tp_call, tp_call)
    SLOT(Py_tp_iter, tp_iter)
    SLOT(Py_tp_iternext, tp_iternext)
    SLOT(Py_tp_methods, tp_methods)
    SLOT(Py_tp_getset, tp_getset)
    SLOT(Py_tp_members, tp_members)
    SLOT(Py_tp_new, tp_new)
#undef SLOT
    slots[n] = (PyType_Slot){0, NULL};
    /* The template's own flags only: readied, it also carries READY and
     * what PyType_Ready derived, which would leave the copy unreadied. */
    unsigned long flags = Py_TPFLAGS_DEFAULT | (t->tp_flags & (Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC));
#ifdef Py_TPFLAGS_IMMUTABLETYPE
    flags |= Py_TPFLAGS_IMMUTABLETYPE;   /* as a static type is: no attribute set from Python */
#endif
    PyType_Spec spec = {t->tp_name, (int)t->tp_basicsize, (int)t->tp_itemsize, (unsigned int)flags, slots};
    PyTypeObject *type = (PyTypeObject *)PyType_FromSpec(&spec);
    /* A heap type inherits object's tp_new; the static one had none, so
     * Python code could not make an object whose fields only C fills. */
    if (type != NULL && t->tp_new == NULL)
        type->tp_new = NULL;
    return type;
}

/* Once, before any object of them is made (3.9 and 3.10 do not find the
 * methods of a type readied lazily by an attribute lookup); interpreters
 * are made one at a time. */
static int statics_ready(void)
{
    static int ready;
    if (ready)
        return 0;
    for (int i = 0; i < GOWSGI_NTYPES; i++)
        if (PyType_Ready(templates[i]) != 0)
            return -1;
    ready = 1;
    return 0;
}

int gowsgi_types_install(gowsgi_interp *it)
{
    int64_t id = PyInterpreterState_GetID(it->interp);
    if (id < 0)
        return -1;
    if (id >= BY_ID_MAX) {
        PyErr_Format(PyExc_RuntimeError, "gowsgi: interpreter id %lld: at most %d interpreters per process",
                     (long long)id, BY_ID_MAX);
        return -1;
    }
    if (!it->own_gil && statics_ready() != 0)
        return -1;
    for (int i = 0; i < GOWSGI_NTYPES; i++) {
        it->types[i] = it->own_gil ? heap_type(templates[i]) : templates[i];
        if (it->types[i] == NULL)
            return -1;
    }
    __atomic_store_n(&by_id[id], it, __ATOMIC_RELEASE);
    return 0;
}

gowsgi_interp *gowsgi_interp_current(void)
{
    int64_t id = PyInterpreterState_GetID(PyInterpreterState_Get());
    if (id < 0 || id >= BY_ID_MAX)
        return NULL;
    return __atomic_load_n(&by_id[id], __ATOMIC_ACQUIRE);
}

void gowsgi_object_free(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
        Py_DECREF(tp);   /* an own-GIL interpreter's copy: each instance holds it */
}

PyTypeObject *gowsgi_type(int which)
{
    gowsgi_interp *it = gowsgi_interp_current();
    if (it == NULL || it->types[which] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "gowsgi: this interpreter is not one the engine made");
        return NULL;
    }
    return it->types[which];
}
