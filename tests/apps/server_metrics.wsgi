# mod_wsgi.server_metrics() as a monitoring agent reads it: None, or
# Apache's scoreboard as a dict. Answers the keys and value types of the
# dict, of a process and of a worker entry, the sizes, and the worker
# entries whose request line holds this request's ?tok= (the request being
# served, in an Apache child whether the app runs there or in a daemon).
import json
import os

import mod_wsgi


def types(d):
    return {k: type(v).__name__ for k, v in d.items()}


def application(environ, start_response):
    qs = environ.get('QUERY_STRING', '')
    tok = qs.split('tok=', 1)[1].split('&')[0] if 'tok=' in qs else ''
    sm = mod_wsgi.server_metrics()
    out = {'pid': os.getpid(), 'type': type(sm).__name__}
    if isinstance(sm, dict):
        procs = sm.get('processes', [])
        out.update(
            types=types(sm),
            process=types(procs[0]) if procs else {},
            worker=types(procs[0]['workers'][0]) if procs and procs[0]['workers'] else {},
            server_limit=sm['server_limit'],
            thread_limit=sm['thread_limit'],
            nprocesses=len(procs),
            nworkers=sorted({len(p['workers']) for p in procs}),
            statuses=sorted({w['status'] for p in procs for w in p['workers']}),
            running=sm['running_time'] >= 0 and sm['current_time'] >= sm['restart_time'] > 0,
            mine=[dict(status=w['status'], request=w['request'], pid=p['pid'],
                       process_num=p['process_num'], access_count=w['access_count'])
                  for p in procs for w in p['workers'] if tok and tok in w['request']],
        )
    body = json.dumps(out, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
