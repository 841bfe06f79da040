"""Alerts: a line in `$GOGOOKU_HOME/alerts.log`, the Python log, and Slack when `SLACK_WEBHOOK_URL` is set."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import requests
from dagster import HookContext, failure_hook

from gogooku.settings import gogooku_home

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.log"


def alerts_path() -> Path:
    return gogooku_home() / ALERTS_FILE


def send_alert(message: str, level: str = "ERROR") -> Path:
    """Record an alert (one line, UTC timestamp) and forward it to Slack if configured; returns the log file.

    A Slack outage is logged, never raised: an alert must not fail the run or sensor that sends it.
    """
    text = " ".join(message.split())  # one line, whatever the error text looked like
    path = alerts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {level} {text}\n")
    log.log(logging.getLevelNamesMapping().get(level, logging.ERROR), "ALERT %s", text)
    webhook = os.environ.get("SLACK_WEBHOOK_URL")
    if webhook:
        try:
            requests.post(webhook, json={"text": f"[gogooku3 {level}] {text}"}, timeout=10).raise_for_status()
        except requests.RequestException as exc:
            log.warning("Slack webhook failed (%s); the alert is in %s", type(exc).__name__, path)
    return path


@failure_hook(name="alert_on_step_failure")
def alert_on_step_failure(context: HookContext) -> None:
    """Alert on every failed step, also in runs executed in process (`gogooku refresh`) where no sensor runs."""
    error = context.op_exception
    reason = f"{type(error).__name__}: {error}" if error else "see the run's logs"
    send_alert(f"step {context.step_key} of {context.job_name} (run {context.run_id}) failed: {reason}"[:1000])
