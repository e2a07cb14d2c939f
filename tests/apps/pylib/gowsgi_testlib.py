# Importable only when WSGIPythonPath (or python-path) includes this directory.
MARKER = 'gowsgi-testlib-imported'
