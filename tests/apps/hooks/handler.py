# WSGIHandlerScript target: handle_request is the WSGI application.
import json
import os

import mod_wsgi


def handle_request(environ, start_response):
    keys = ['mod_wsgi.request_handler', 'mod_wsgi.handler_script', 'mod_wsgi.process_group',
            'mod_wsgi.application_group', 'SCRIPT_NAME', 'PATH_INFO', 'SCRIPT_FILENAME',
            'REQUEST_URI', 'HTTP_AUTHORIZATION', 'REMOTE_USER', 'AUTH_TYPE']
    out = {k: environ.get(k) for k in keys}
    out['pid'] = os.getpid()
    out['module_process_group'] = mod_wsgi.process_group
    out['module_name'] = __name__
    body = json.dumps(out, sort_keys=True).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
