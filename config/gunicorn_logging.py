"""gunicorn's logger with the access log redacted (``--logger-class`` in docker/start-web.sh).

The request line, query string and referer of an OAuth redirect carry ``code=`` and ``state=``; a token
request may carry ``client_secret=``. Every atom that can hold them is redacted before formatting, and
the error log's handlers get the same filter as Django's logs (config.redaction)."""

from gunicorn.glogging import Logger

from config.redaction import RedactSecretsFilter, add_filter_to_handlers, redact

REDACTED_ATOMS = ("r", "q", "f", "U")


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        add_filter_to_handlers(self.error_log)
        add_filter_to_handlers(self.access_log)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in REDACTED_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        for name, value in list(atoms.items()):
            if name.startswith("{") and isinstance(value, str):  # request and response headers
                atoms[name] = redact(value)
        return atoms


__all__ = ["RedactingLogger", "RedactSecretsFilter"]
