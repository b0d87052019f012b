"""How the portal tells the layers above it what happened, without knowing them.

The OAuth server and platform API (integrations) and the sync engine (sync) sit above the portal: they hold
tokens, callbacks and connections of installations the portal turns on and off. Instead of reaching into their
rows, the portal names an event here and calls whatever listeners those apps registered in their
``AppConfig.ready``. Listeners run in the caller's transaction (so their writes commit or roll back with the
portal's) and return a dict of figures that the portal merges into its audit row.

A second kind of hook asks rather than tells: ``ask(TURN_ON_REDIRECT, ...)`` returns the first listener's
non-``None`` answer, so the sync engine can take over where a turn-on's consent comes back to, and the app's
page can show the callback log that the OAuth server keeps.
"""

from collections.abc import Callable

# tell(): installation=..., actor=...
INSTALLATION_TURNED_ON = "installation_turned_on"
# tell(): installation=..., reason=...
INSTALLATION_TURNED_OFF = "installation_turned_off"
# tell(): app=..., reason=...
APP_SUSPENDED = "app_suspended"
# ask(): app=..., account=..., user=...  ->  (redirect_uri, state) or None
TURN_ON_REDIRECT = "turn_on_redirect"
# ask(): app=...  ->  the app's latest install/uninstall callback attempts, newest first (for its page)
CALLBACK_LOG = "callback_log"
# ask(): url=..., purpose=...  ->  why the portal may not call that URL, or None (the egress guard answers)
URL_REFUSAL = "url_refusal"
# tell(): app=..., installations=..., since=..., now=...  ->  {check code: {"passed", "summary", "figures",
# optional "fix"}}: the conformance checks whose evidence those layers hold (portal/conformance.py)
CONFORMANCE_EVIDENCE = "conformance_evidence"

EVENTS = (INSTALLATION_TURNED_ON, INSTALLATION_TURNED_OFF, APP_SUSPENDED, TURN_ON_REDIRECT, CALLBACK_LOG,
          URL_REFUSAL, CONFORMANCE_EVIDENCE)

_listeners: dict[str, list[Callable]] = {event: [] for event in EVENTS}


def listen(event: str, listener: Callable) -> None:
    """Register ``listener`` for ``event`` (idempotent: registering the same function twice keeps one)."""
    if event not in _listeners:
        raise ValueError(f"Unknown portal event {event!r}.")
    if listener not in _listeners[event]:
        _listeners[event].append(listener)


def tell(event: str, **details) -> dict:
    """Call every listener of ``event`` in registration order; return their figures merged into one dict."""
    figures: dict = {}
    for listener in _listeners[event]:
        figures.update(listener(**details) or {})
    return figures


def ask(event: str, **details):
    """The first non-``None`` answer of the listeners of ``event``, or ``None``."""
    for listener in _listeners[event]:
        answer = listener(**details)
        if answer is not None:
            return answer
    return None
