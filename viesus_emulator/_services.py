"""What the workers need of an emulator instance, as a protocol (``_world.EmulatorState`` is
one): the workers are built by the world, so they must not import it back."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import httpx

from viesus_emulator._config import EmulatorConfig, FaultConfig
from viesus_emulator._faults import FaultInjector
from viesus_emulator._ledger import CreditLedger
from viesus_emulator._signing import UrlSigner
from viesus_emulator._stats import Stats
from viesus_emulator._store import Store, UploadRecord
from viesus_emulator._webhooks import WebhookDispatcher


class PdfQueue(Protocol):
    def submit(self, upload: UploadRecord) -> None: ...


class Workers(Protocol):
    @property
    def pdf(self) -> PdfQueue: ...


class Services(Protocol):
    config: EmulatorConfig
    store: Store
    ledger: CreditLedger
    stats: Stats
    signer: UrlSigner
    injector: FaultInjector
    dispatcher: WebhookDispatcher
    http: httpx.AsyncClient
    results_dir: Path

    @property
    def faults(self) -> FaultConfig: ...

    @property
    def workers(self) -> Workers: ...
