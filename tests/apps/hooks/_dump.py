# Shared by the hook scripts (imported by file path, so that every
# interpreter gets its own copy): writes a description of an environ as
# JSON into <ServerRoot>/scratch/<X-Hooks-Dump header>.json.
# DOCUMENT_ROOT is <ServerRoot>/htdocs in the tests' generated config.
import json
import os


def describe(environ):
    return sorted((k, type(v).__name__, v if isinstance(v, (str, int, tuple)) else None)
                  for k, v in environ.items())


def dump(environ, kind, **extra):
    name = environ.get('HTTP_X_HOOKS_DUMP')
    if not name:
        return
    root = os.path.dirname(environ.get('DOCUMENT_ROOT', '/nonexistent'))
    if not root or root == '/':
        # dispatch environ: DOCUMENT_ROOT is there too; nothing else to try
        return
    data = {'kind': kind, 'environ': describe(environ), 'pid': os.getpid()}
    is_https = environ.get('mod_ssl.is_https')
    var_lookup = environ.get('mod_ssl.var_lookup')
    data['is_https'] = repr(is_https()) if callable(is_https) else 'missing'
    data['var_lookup_https'] = repr(var_lookup('HTTPS')) if callable(var_lookup) else 'missing'
    errors = environ.get('wsgi.errors')
    if errors is not None:
        errors.write('hooks wsgi.errors %s %s\n' % (name, kind))
        errors.flush()
    data.update(extra)
    path = os.path.join(root, 'scratch', '%s-%s.json' % (name, kind))
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, sort_keys=True)
    os.rename(path + '.tmp', path)
