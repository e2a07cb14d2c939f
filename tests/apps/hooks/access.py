# WSGIAccessScript: allow_access(environ, host); the query string decides.
import importlib.util
import os

_spec = importlib.util.spec_from_file_location('_hooks_dump_access', os.path.join(os.path.dirname(__file__), '_dump.py'))
_dump = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dump)


def allow_access(environ, host):
    _dump.dump(environ, 'allow_access', host=host)
    q = environ.get('QUERY_STRING', '')
    if 'allow=1' in q:
        return True
    if 'allow=0' in q:
        return False
    if 'allow=none' in q:
        return None
    if 'allow=raise' in q:
        raise RuntimeError('allow_access raised')
    if 'allow=int' in q:
        return 1
    if 'allow=str' in q:
        return 'yes'
    return host == '127.0.0.1'
