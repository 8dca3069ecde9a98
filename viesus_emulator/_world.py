"""The world of one emulator instance: its records and services (``EmulatorState``).

Shared by the HTTP app, resolvers and workers; tests reach it as ``emu.state``: the records
(``store``), the credit ``ledger``, the ``stats``, the webhook ``dispatcher`` and the
``faults`` (assignable at run time). Not an upload's or a job's ``status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from viesus_emulator._config import EmulatorConfig, FaultConfig
from viesus_emulator._faults import FaultInjector
from viesus_emulator._ledger import CreditLedger
from viesus_emulator._pending import PendingUploads
from viesus_emulator._signing import UrlSigner
from viesus_emulator._stats import Stats
from viesus_emulator._store import Store, utcnow
from viesus_emulator._url_policy import UrlPolicy
from viesus_emulator._webhooks import WebhookDispatcher
from viesus_emulator._worker import WorkerPool


class EmulatorState:
    def __init__(self, config: EmulatorConfig, data_dir: Path, http: httpx.AsyncClient) -> None:
        self.config = config
        self.data_dir = data_dir
        self.uploads_dir = data_dir / "uploads"
        self.results_dir = data_dir / "results"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.http = http
        self.store = Store()
        self.pending = PendingUploads()
        self.ledger = CreditLedger(allowance=config.credits)
        self.stats = Stats()
        self.signer = UrlSigner()
        self.injector = FaultInjector(config.seed)
        self.url_policy = UrlPolicy.for_server(
            config.host, config.allow_private_urls, config.fetch_hosts
        )
        self.dispatcher = WebhookDispatcher(
            self.store,
            self.stats,
            http,
            config.webhook_retry_delays,
            config.webhook_timeout,
            max_records=config.max_delivery_records,
        )
        self.workers = WorkerPool(self)

    def __repr__(self) -> str:
        return f"EmulatorState(base_url={self.base_url!r}, {len(self.store.jobs)} jobs)"

    @property
    def base_url(self) -> str:
        return self.signer.base_url

    @property
    def faults(self) -> FaultConfig:
        return self.config.faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        self.config.faults = faults

    def stats_snapshot(self) -> dict[str, Any]:
        ledger = self.ledger.snapshot(utcnow())
        credits = {
            "allowance": self.ledger.allowance,
            "used": ledger["usedCreditsThisPeriod"],
            "remaining": ledger["remainingCreditsThisPeriod"],
            "reserved": self.ledger.reserved,
            "charged": self.ledger.charged_total,
        }
        return self.stats.snapshot(self.store, credits)
