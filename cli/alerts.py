"""`cchc alerts …`: send what waits for the daily digest now, or a test alert to check the channels."""

from __future__ import annotations

import typer

from cchc.alerts import Alert, Alerter
from cchc.errors import CchcError
from cli.console import current_settings, out

alerts_app = typer.Typer(help="Alerts by webhook and email ([alerts] in the config).", no_args_is_help=True)


def _alerter() -> Alerter:
    settings = current_settings()
    if not settings.alerts.enabled:
        raise CchcError(
            f"{settings.source_file}: no alert channel is configured: set alerts.webhook_url, or alerts.smtp_host "
            "and alerts.mail_to"
        )
    return Alerter.for_settings(settings)


@alerts_app.command("digest")
def alerts_digest() -> None:
    """Send the alerts waiting for the digest as one message (the daemon does it daily at alerts.digest_hour)."""
    sent = _alerter().send_digest()
    out.print(f"digest of {sent} alerts sent" if sent else "no alert is waiting for the digest: nothing sent")


@alerts_app.command("test")
def alerts_test() -> None:
    """Send one test alert through every configured channel, now (neither deduplicated nor held for a digest)."""
    alerter = _alerter()
    alert = Alert("test", "channels", "a test alert from `cchc alerts test`", alerter.link("/"))
    alerter.deliver_now(alert)
    out.print("test alert sent; failures, if any, are logged above")
