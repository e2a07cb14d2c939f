# What an APM agent does with mod_wsgi's Python API (mod_wsgi 4.9.4):
# subscribe_events / subscribe_shutdown / atexit at import, request_data()
# and the metrics functions during a request. Every event is appended as a
# JSON line to apm-events.log beside the script (one copy per server), tagged with the pid and the
# request's token (?tok=...), so a test can read what each process saw.
import atexit
import json
import os
import sys

import mod_wsgi

LOG = os.path.join(os.path.dirname(__file__), 'apm-events.log')


def types(d):
    return {k: type(v).__name__ for k, v in d.items()}


def record(**fields):
    fields['pid'] = os.getpid()
    with open(LOG, 'a') as f:
        f.write(json.dumps(fields, sort_keys=True) + '\n')


def on_event(name, **event):
    data = event.get('request_data')
    if name == 'request_started':
        qs = event['request_environ'].get('QUERY_STRING', '')
        data['tok'] = qs.split('tok=', 1)[1].split('&')[0] if 'tok=' in qs else ''
    tok = data.get('tok', '') if isinstance(data, dict) else ''
    record(event=name, tok=tok, types=types(event),
           reason=event.get('shutdown_reason'),
           data_keys=sorted(data) if isinstance(data, dict) else None,
           in_active=bool(data is not None and any(v is data for v in mod_wsgi.active_requests.values())))
    if name == 'request_started' and tok.startswith('wrap'):
        inner = event['application_object']

        def wrapper(environ, start_response):
            environ['apm.wrapped'] = 'yes'
            return inner(environ, start_response)
        return {'application_object': wrapper}
    if name == 'request_started' and tok.startswith('boom'):
        raise RuntimeError('callback failure must not break the request')


def on_shutdown(name, **event):
    record(event='shutdown:' + name, tok='', types=types(event), reason=event.get('shutdown_reason'))


def on_exit():
    record(event='atexit', tok='', types={})


mod_wsgi.subscribe_events(on_event)
mod_wsgi.subscribe_shutdown(on_shutdown)
atexit.register(on_exit)


def application(environ, start_response):
    op = environ.get('PATH_INFO', '')
    out = {'pid': os.getpid(), 'wrapped': environ.get('apm.wrapped', 'no')}
    if op == '/metrics':
        first = mod_wsgi.request_metrics()
        second = mod_wsgi.request_metrics()
        pm = mod_wsgi.process_metrics()
        out.update(
            process_metrics=types(pm),
            process_threads=[types(t) for t in pm['threads']][:1],
            request_metrics_first=types(first),
            request_metrics=types(second),
            server_metrics=type(mod_wsgi.server_metrics()).__name__,
            request_data=type(mod_wsgi.request_data()).__name__,
            attrs={k: type(getattr(mod_wsgi, k)).__name__ for k in (
                'event_callbacks', 'shutdown_callbacks', 'active_requests',
                'maximum_processes', 'threads_per_process', 'subscribe_events',
                'subscribe_shutdown', 'process_metrics', 'request_metrics',
                'server_metrics', 'request_data')},
            callbacks=[len(mod_wsgi.event_callbacks), len(mod_wsgi.shutdown_callbacks)],
            request_count=pm['request_count'],
            active_requests=pm['active_requests'],
        )
    else:
        data = mod_wsgi.request_data()
        data['app'] = 1
        out['request_data_keys'] = sorted(data)
        out['body'] = len(environ['wsgi.input'].read())
    body = json.dumps(out, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
