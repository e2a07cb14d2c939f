# Fails at import: the engine must answer 500 and log the traceback.
raise ImportError('broken on purpose')
