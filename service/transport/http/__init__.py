"""HTTP: the Flask app factory (app.py), thin blueprints (api/), request hooks (request_log.py, security.py), error
rendering (errors.py), the open inference protocol's HTTP body format (v2_codec.py), the API document
(openapi.py, openapi.yaml), the drawing page's files (web/), and gunicorn: its settings (gunicorn.conf.py)
and the worker class that balances connections and reads requests in its event loop (worker/).
"""
