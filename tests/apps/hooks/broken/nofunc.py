# A hook script that defines none of the hook functions.
def unrelated(environ):
    return None
