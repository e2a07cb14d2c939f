# A hook script that does not compile.
def check_password(environ, user, password)
    return True

def allow_access(environ, host)
    return True
