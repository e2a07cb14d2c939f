# Loaded by WSGIImportScript at process start.
import builtins
import os
import sys
builtins._gowsgi_import_script_pid = os.getpid()
sys.stderr.write('GOWSGI-IMPORT-SCRIPT-RAN pid=%d\n' % os.getpid())
sys.stderr.flush()
