# WSGIAuthUserScript: check_password (Basic) and get_realm_hash (Digest).
# Behaviour is chosen by the user name so that one script covers every case.
import hashlib
import importlib.util
import os

_spec = importlib.util.spec_from_file_location('_hooks_dump_auth', os.path.join(os.path.dirname(__file__), '_dump.py'))
_dump = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dump)

PASSWORDS = {'alice': 'secret', 'carol': 'carolpw', 'dave': 'davepw', 'erin': 'erinpw',
             'frank': 'frankpw', 'filer': 'wsgipw', 'dump': 'dumppw',
             'graise': 'x', 'gint': 'x', 'gitemint': 'x', 'gnonlatin': 'x', 'gbytes': 'x',
             'ggen': 'x', 'gnone': 'x', 'gstr': 'x',
             'j\u00f6rg': 'p\u00e4ss'}


class Weird(object):
    pass


def check_password(environ, user, password):
    _dump.dump(environ, 'check_password', user=user, password=password)
    if user == 'raise':
        raise RuntimeError('check_password raised for ' + user)
    if user == 'int':
        return 1
    if user == 'bytes':
        return b'bytesuser'
    if user == 'obj':
        return Weird()
    if user == 'nobody':
        return None
    if user == 'rename':
        return 'renamed' if password == 'pw' else False
    if user == 'rename8':
        return 'r\u00e9named'
    if user.startswith('long'):
        return len(user) == 3000 and password == 'p' * 2500
    if user not in PASSWORDS:
        return None
    return PASSWORDS[user] == password


def get_realm_hash(environ, user, realm):
    _dump.dump(environ, 'get_realm_hash', user=user, realm=realm)
    if user == 'raise':
        raise RuntimeError('get_realm_hash raised for ' + user)
    if user == 'int':
        return 1
    if user == 'bytes':
        return hashlib.md5(('bytes:%s:bytespw' % realm).encode()).hexdigest().encode()
    if user == 'nonlatin':
        return '\u0100' * 32
    if user not in PASSWORDS:
        return None
    return hashlib.md5(('%s:%s:%s' % (user, realm, PASSWORDS[user])).encode('utf-8')).hexdigest()
