"""ASGI middleware, one class per module: locale, queued cookies, body size limits, the input
guard, security headers, CSRF, and a request log that never records rating endpoints;
``paths`` says which part of the site a path belongs to.

Pure ASGI classes rather than ``BaseHTTPMiddleware``: they sit on the submission path.
"""
