# WSGIAuthGroupScript: groups_for_user.
import importlib.util
import os

_spec = importlib.util.spec_from_file_location('_hooks_dump_groups', os.path.join(os.path.dirname(__file__), '_dump.py'))
_dump = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dump)


def groups_for_user(environ, user):
    _dump.dump(environ, 'groups_for_user', user=user)
    if user == 'alice':
        return ['admins']
    if user == 'erin':
        return ('x', 'editors')
    if user == 'dave':
        return ['staff']
    if user == 'frank':
        return []
    if user == 'gnone':
        return None
    if user == 'graise':
        raise RuntimeError('groups_for_user raised for ' + user)
    if user == 'gint':
        return 5
    if user == 'gitemint':
        return [1]
    if user == 'gnonlatin':
        return ['\u0100dmins']
    if user == 'gbytes':
        return [b'admins']
    if user == 'ggen':
        return (g for g in ['a', 'admins'])
    if user == 'gstr':
        return 'admins'
    return ['carolgroup']
