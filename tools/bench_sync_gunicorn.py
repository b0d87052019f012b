"""Gunicorn logger for `make bench-sync`: adds atom ``%(e)s``, the request's start as unix seconds with
milliseconds, so the benchmark can count admitted and refused calls per account in an exact window."""

from gunicorn.glogging import Logger


class BenchLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        import time

        atoms["e"] = "%.3f" % (time.time() - request_time.total_seconds())
        return atoms
