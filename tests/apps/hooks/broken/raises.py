# A hook script that raises while being imported.
raise ImportError('hooks broken script raised at import')
