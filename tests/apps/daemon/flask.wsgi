# The Flask test app for a daemon group: unlike apps/flaskapp/app.wsgi it
# does not put its directory on sys.path itself, so importing flaskapp
# works only when the group's python-path= names apps/flaskapp.
from flaskapp import app as application  # noqa: F401
