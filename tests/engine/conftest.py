"""Shared fixtures: the bundled astronaut portrait (scikit-image wheel, nothing downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.helpers import U8, encode


@pytest.fixture(scope="session")
def astronaut() -> U8:
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(np.asarray(data.astronaut(), dtype=np.uint8))


@pytest.fixture(scope="session")
def astronaut_png(astronaut: U8) -> bytes:
    return encode(astronaut, "PNG")


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut: U8) -> bytes:
    return encode(astronaut, "JPEG", quality=92)
