/*
 * group_python.c: which CPython a daemon group runs (ARCHITECTURE.md
 * section 6). Decided from files alone, never loading or running a
 * Python: by each daemon process as the group's user before it loads one
 * (daemon_child.c), and by configtest (daemon_directives.c). A
 * python-home= holding pyvenv.cfg runs the Python that virtualenv was made
 * with; python-executable= (gowsgi's own option) names one; anything else
 * runs the server's. The result is the libpython and the engine build
 * (libgowsgi-X.Y.so beside the default engine) the group's processes load.
 */
#include "group_python.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apr_strings.h"
#include "apr_tables.h"

#include "shim_build.h"

/* "3.12" or "3.13t" from a name "python3.12" / "python3.13t" (or NULL). */
static const char *tag_of_program(apr_pool_t *p, const char *path)
{
    char *copy = apr_pstrdup(p, path);
    const char *base = basename(copy);
    const char *v = base + strlen("python");
    if (strncmp(base, "python", 6) != 0 || v[0] < '0' || v[0] > '9')
        return NULL;
    const char *c = v;
    while (*c >= '0' && *c <= '9')
        c++;
    if (*c++ != '.' || *c < '0' || *c > '9')
        return NULL;
    while (*c >= '0' && *c <= '9')
        c++;
    if (*c == 't')
        c++;
    return *c == '\0' ? apr_pstrdup(p, v) : NULL;
}

/* 0 for a regular file, else why not (ENOENT for one that is not regular). */
static int file_errno(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno;
    return S_ISREG(sb.st_mode) ? 0 : ENOENT;
}

static int is_file(const char *path)
{
    return file_errno(path) == 0;
}

/* Why this process cannot look: "uid 1001 cannot reach it: Permission
 * denied". A daemon resolves its Python as the group's user, whose
 * permissions are not root's: "no such file" would send a sysadmin
 * looking for a file that is there. */
static const char *unreachable(apr_pool_t *p, int err)
{
    if (err == ENAMETOOLONG)
        return "its path is longer than the system allows";
    return apr_psprintf(p, "uid %ld cannot reach it: %s", (long)geteuid(), strerror(err));
}

/* The shared libpython of the Python installed at prefix, or NULL with
 * *err the first error other than its absence (0 if none). */
static const char *libpython_of(apr_pool_t *p, const char *prefix, const char *tag, int *err)
{
    const char *name = apr_pstrcat(p, "libpython", tag, ".so.1.0", NULL);
    const char *dirs[] = {"/lib/", "/lib/" GOWSGI_MULTIARCH "/", "/lib64/", NULL};
    *err = 0;
    for (int i = 0; dirs[i] != NULL; i++) {
        const char *path = apr_pstrcat(p, prefix, dirs[i], name, NULL);
        int e = file_errno(path);
        if (e == 0)
            return path;
        if (*err == 0 && e != ENOENT && e != ENOTDIR)
            *err = e;
    }
    return NULL;
}

int gowsgi_python_is_servers(const gowsgi_python *py)
{
    if (py->engine != NULL || py->libpython == NULL)
        return 0;
    if (strcmp(py->libpython, GOWSGI_LIBPYTHON) == 0)
        return 1;   /* the soname: resolved as the server's */
    /* A virtualenv of the server's Python names its libpython by path. */
    struct stat a, b;
    return stat(py->libpython, &a) == 0 && stat(GOWSGI_LIBPYTHON_PATH, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* The engine builds installed in dir: "3.11 (the server's), 3.12, 3.13". */
static const char *installed_builds(apr_pool_t *p, const char *dir)
{
    apr_array_header_t *tags = apr_array_make(p, 8, sizeof(const char *));
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "libgowsgi-", 10) == 0 && n > 13 && strcmp(e->d_name + n - 3, ".so") == 0)
            *(const char **)apr_array_push(tags) = apr_pstrndup(p, e->d_name + 10, n - 13);
    }
    if (d != NULL)
        closedir(d);
    const char *list = GOWSGI_PYTHON_TAG " (the server's)";
    for (int i = 0; i < tags->nelts; i++)
        list = apr_pstrcat(p, list, ", ", ((const char **)tags->elts)[i], NULL);
    return list;
}

/* The value of key in a pyvenv.cfg's text ("key = value" lines), or NULL. */
static const char *cfg_value(apr_pool_t *p, const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (strncmp(line, key, klen) != 0)
            continue;
        const char *c = line + klen;
        while (*c == ' ' || *c == '\t')
            c++;
        if (*c++ != '=')
            continue;
        while (*c == ' ' || *c == '\t')
            c++;
        size_t n = strcspn(c, "\r\n");
        while (n > 0 && (c[n - 1] == ' ' || c[n - 1] == '\t'))
            n--;
        return apr_pstrndup(p, c, n);
    }
    return NULL;
}

/* A tenant's file, read by root: never follow a link out of the
 * virtualenv, never block on a FIFO put in its place. */
static const char *read_small_file(apr_pool_t *p, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return NULL;
    }
    char *buf = apr_palloc(p, 8192);
    ssize_t n = read(fd, buf, 8191);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

/* The base interpreter of a virtualenv, from its pyvenv.cfg:
 * `executable` (3.11+), else `home` with the version's program name. */
static const char *venv_python(apr_pool_t *p, const char *cfg, const char **version)
{
    const char *exe = cfg_value(p, cfg, "executable");
    const char *dir = cfg_value(p, cfg, "home");
    *version = cfg_value(p, cfg, "version");
    if (*version == NULL)
        *version = cfg_value(p, cfg, "version_info");   /* virtualenv's own spelling */
    if (exe != NULL && *exe == '/')
        return exe;
    if (dir == NULL || *dir != '/' || *version == NULL)
        return NULL;
    /* "3.12.1" (or "3.12.1.final.0"): python3.12 in home. */
    const char *dot = strchr(*version, '.');
    const char *end = dot ? strchr(dot + 1, '.') : NULL;
    const char *xy = end ? apr_pstrndup(p, *version, (size_t)(end - *version)) : *version;
    const char *exe_t = apr_pstrcat(p, dir, "/python", xy, "t", NULL);
    const char *exe_plain = apr_pstrcat(p, dir, "/python", xy, NULL);
    return is_file(exe_plain) || !is_file(exe_t) ? exe_plain : exe_t;
}

const char *gowsgi_python_resolve(apr_pool_t *p, const char *home_label, const char *python_home,
                                  const char *python_executable, const char *engine_dir, gowsgi_python *out)
{
    const char *exe = NULL, *version = NULL, *from;
    memset(out, 0, sizeof(*out));
    out->tag = GOWSGI_PYTHON_TAG;
    out->libpython = GOWSGI_LIBPYTHON;

    const char *cfg_path = python_home != NULL ? apr_pstrcat(p, python_home, "/pyvenv.cfg", NULL) : NULL;
    /* No pyvenv.cfg: not a virtualenv. One this process cannot look for
     * (a home its user cannot enter) is said as such: taken for none, the
     * group would go on with the server's Python and fail obscurely. */
    int cfg_err = cfg_path != NULL ? file_errno(cfg_path) : ENOENT;
    if (cfg_err != 0 && cfg_err != ENOENT && cfg_err != ENOTDIR)
        return apr_psprintf(p, "%s%s: its pyvenv.cfg: %s", home_label, python_home, unreachable(p, cfg_err));
    const char *cfg = cfg_err == 0 ? read_small_file(p, cfg_path) : NULL;
    if (cfg_path != NULL && cfg == NULL && access(cfg_path, F_OK) == 0)
        return apr_psprintf(p, "%s%s is a virtualenv whose %s cannot be read", home_label, python_home, cfg_path);
    if (python_executable != NULL) {
        exe = python_executable;
        from = apr_psprintf(p, "python-executable=%s", python_executable);
    }
    else if (cfg != NULL) {
        exe = venv_python(p, cfg, &version);
        if (exe == NULL)
            return apr_psprintf(p, "%s%s is a broken virtualenv: its pyvenv.cfg names no Python "
                                "(no 'executable', or no 'home' and 'version'); make it again with "
                                "python3.X -m venv", home_label, python_home);
        from = apr_psprintf(p, "%s%s is a virtualenv made with Python %s (%s)", home_label, python_home,
                            version ? version : "?", exe);
    }
    else
        return NULL;   /* the server's Python */

    char real[PATH_MAX];
    int e = realpath(exe, real) == NULL ? errno : file_errno(real);
    if (e != 0 && e != ENOENT && e != ENOTDIR)
        return apr_psprintf(p, "%s: %s", from, unreachable(p, e));
    if (e != 0) {
        if (python_executable != NULL)
            return apr_psprintf(p, "%s: no such program", from);
        return apr_psprintf(p, "%s, which no longer exists: make the virtualenv again with a Python that "
                            "is installed (engine builds installed: %s)", from, installed_builds(p, engine_dir));
    }
    const char *tag = tag_of_program(p, real);
    if (tag == NULL)
        tag = tag_of_program(p, exe);
    if (tag == NULL)
        return apr_psprintf(p, "%s: cannot tell which Python %s is (its name is not python3.X): name the "
                            "python3.X program itself", from, real);
    if (python_executable != NULL && cfg != NULL) {
        const char *venv_exe = venv_python(p, cfg, &version);
        char venv_real[PATH_MAX];
        const char *venv_tag = venv_exe != NULL && realpath(venv_exe, venv_real) != NULL
                                   ? tag_of_program(p, venv_real) : NULL;
        if (venv_tag != NULL && strcmp(venv_tag, tag) != 0)
            return apr_psprintf(p, "%s is Python %s, but %s%s is a virtualenv made with Python %s",
                                from, tag, home_label, python_home, venv_tag);
    }

    char *prefix = apr_pstrdup(p, real);
    prefix = dirname(dirname(prefix));
    const char *lib = libpython_of(p, prefix, tag, &e);
    if (lib == NULL && e != 0)
        return apr_psprintf(p, "%s: Python %s at %s: its libpython%s.so.1.0 (in %s/lib): %s", from, tag, real, tag,
                            prefix, unreachable(p, e));
    if (lib == NULL)
        return apr_psprintf(p, "%s: Python %s at %s has no shared libpython%s.so.1.0 (in %s/lib): a daemon "
                            "group needs a Python built with --enable-shared", from, tag, real, tag, prefix);
    out->tag = tag;
    out->executable = apr_pstrdup(p, real);
    out->libpython = lib;
    if (strcmp(tag, GOWSGI_PYTHON_TAG) == 0)
        return NULL;   /* the server's version: the default engine */
    const char *engine = apr_pstrcat(p, engine_dir, "/libgowsgi-", tag, ".so", NULL);
    e = file_errno(engine);
    if (e != 0 && e != ENOENT && e != ENOTDIR)
        return apr_psprintf(p, "%s: its gowsgi engine build %s: %s", from, engine, unreachable(p, e));
    if (e != 0)
        return apr_psprintf(p, "%s, which has no gowsgi engine build installed (%s): engine builds installed: "
                            "%s; build one with `make pythons PYTHONS=%s` and `make install`",
                            from, engine, installed_builds(p, engine_dir), real);
    out->engine = engine;
    return NULL;
}
