"""Sending alert messages through apprise (https://github.com/caronc/Apprise): one URL
list reaches Slack, Microsoft Teams, Discord, e-mail and plain JSON webhooks.

Each message goes to each URL on its own, so that a URL that failed is retried alone
and the others are not sent twice. Bodies are plain text (names from the logs are never
markup): apprise is told so, and converts for each service.

URLs carry secrets (webhook tokens, passwords): the warehouse keeps only a fingerprint of
each and apprise's redacted form of it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

# A delivery: (url, title, body) -> None when delivered, else why not (one line).
Sender = Callable[[str, str, str], str | None]


def url_id(url: str) -> str:
    """A stable fingerprint of a URL, to match deliveries with the URLs configured now."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def shown_url(url: str) -> str:
    """The URL with its secrets masked (apprise's privacy form), for tables and output."""
    import apprise  # a fifth of a second: only where a URL is shown or sent to

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return url.split("://", 1)[0] + "://(not a URL apprise knows)"
    return plugin.url(privacy=True)


def send_message(url: str, title: str, body: str) -> str | None:
    """Send one message to one URL; None when delivered, else apprise's reason."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "apprise knows no service of this URL (docs/alerts.md lists examples)"
    with apprise.LogCapture(level=logging.WARNING) as log:
        delivered = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        reasons = [line.strip() for line in log.getvalue().splitlines() if line.strip()]
    if delivered:
        return None
    return (reasons[-1] if reasons else "apprise could not deliver it")[:500]
