"""wsgiauth: a user authentication service written as a plain WSGI app.

``wsgiauth.app.create_app()`` returns the WSGI callable; ``serve.py`` serves
it with waitress. The modules, from the bottom up: ``user`` (the table),
``db`` (the queries), ``auth`` (the rules), ``http`` and ``routing`` (HTTP
by hand), ``app`` (the endpoints), ``config`` (the settings).
"""
