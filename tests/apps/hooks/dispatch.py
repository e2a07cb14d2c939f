# WSGIDispatchScript: process_group / application_group / callable_object
# chosen by the query string (pg=, ag=, co=); errors by err=.
import importlib.util
import os
from urllib.parse import parse_qs

_spec = importlib.util.spec_from_file_location('_hooks_dump_dispatch', os.path.join(os.path.dirname(__file__), '_dump.py'))
_dump = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dump)


def _q(environ):
    return {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}


def _err(q, fn):
    e = q.get('err', '')
    if e == fn + '-raise':
        raise RuntimeError(fn + ' raised')
    if e == fn + '-int':
        return 7
    if e == fn + '-nonlatin':
        return '\u0100'
    return False


def process_group(environ):
    _dump.dump(environ, 'process_group')
    q = _q(environ)
    r = _err(q, 'process_group')
    if r is not False:
        return r
    return q.get('pg')


def application_group(environ):
    q = _q(environ)
    r = _err(q, 'application_group')
    if r is not False:
        return r
    return q.get('ag')


def callable_object(environ):
    q = _q(environ)
    r = _err(q, 'callable_object')
    if r is not False:
        return r
    return q.get('co')
