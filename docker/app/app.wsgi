# The image's example WSGI app (/srv/app/app.wsgi): mount your own directory
# on /srv/app to replace it. It says which replica answered, which shows the
# load balancer at work in compose.yaml.
import os
import sys


def application(environ, start_response):
    replica = environ.get('GOWSGI_REPLICA', '?')
    body = 'Hello from gowsgi replica %s (pid %d, Python %s, %s)\n' % (
        replica, os.getpid(), sys.version.split()[0], environ.get('mod_wsgi.version', ''))
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('X-Gowsgi-Replica', replica)])
    return [body.encode('utf-8')]
