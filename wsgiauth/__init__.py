"""wsgiauth: a user authentication service written as a plain WSGI app.

``wsgiauth.app.create_app()`` returns the WSGI callable; ``serve.py`` serves
it with waitress. The modules, one job each, from the bottom up: ``user``
(the tables), ``db`` (the queries), ``emails``, ``passwords``, ``tokens`` and
``throttle`` (the rules), ``account`` (the account's changes), ``auth``
(the seed's façade over them), ``parsers``, ``http``, ``routing`` and
``request`` (HTTP by hand), ``api`` and ``browser`` (the endpoints, JSON and
pages), ``app`` (the WSGI callable), ``middleware``, ``config`` (the
settings). The README's module list says more.
"""
