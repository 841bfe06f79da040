"""J-Quants v2 over HTTP through the official client (`jquantsapi.ClientV2`).

The client's own retry adapter is mounted for https:// only (upstream-gaps.md), and it gives up on the first
unparseable body, so `_get` here adds the project's retry: 429, 5xx, connection errors and invalid JSON are
retried with exponential backoff and jitter, a bounded number of times; 401/403 fail at once naming the key.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

import requests
from jquantsapi import ClientV2

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.jquants.com/v2"
RETRY_STATUS = {429, 500, 502, 503, 504}


class ApiError(RuntimeError):
    """J-Quants could not be read; the message says which endpoint and why (never the key)."""


class JQuantsClient(ClientV2):
    """`ClientV2` rooted at `base_url`, with bounded backoff on transient failures."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        max_attempts: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("JQUANTS_API_KEY", "")
        if not key:
            raise ApiError("JQUANTS_API_KEY is not set: put your J-Quants v2 API key in the environment or .env")
        super().__init__(api_key=key)
        self.JQUANTS_API_BASE = (base_url or os.environ.get("JQUANTS_API_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.retries = 0  # transient failures retried, for reports and tests

    def _get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        path = url.removeprefix(self.JQUANTS_API_BASE)
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self._request_session().get(url, params=params, headers=self._base_headers(), timeout=30)
            except requests.RequestException as exc:
                problem = f"connection failed ({type(exc).__name__})"
            else:
                if resp.status_code in (401, 403):
                    raise ApiError(
                        f"J-Quants answered {resp.status_code} on {path}: JQUANTS_API_KEY is missing, wrong or expired"
                    )
                if resp.status_code in RETRY_STATUS:
                    problem = f"HTTP {resp.status_code}"
                elif not resp.ok:
                    raise ApiError(f"J-Quants answered HTTP {resp.status_code} on {path}: {_message(resp)}")
                else:
                    try:
                        resp.json()
                        return resp
                    except (json.JSONDecodeError, ValueError):
                        problem = "a body that is not JSON"
            if attempt == self.max_attempts:
                break
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning(
                "J-Quants %s answered %s; retry %d/%d in %.1fs", path, problem, attempt, self.max_attempts - 1, delay
            )
            self.retries += 1
            self._sleep(delay)
        raise ApiError(f"J-Quants {path} answered {problem} {self.max_attempts} times in a row; giving up")

    def fetch(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """All records of one request, following `pagination_key`."""
        return self._get_paginated(path, params)


def _message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("message", ""))[:200]
    except ValueError:
        return resp.text[:200]
