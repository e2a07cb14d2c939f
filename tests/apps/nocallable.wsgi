# A WSGI script that does not define the callable (differential tests).
x = 1
