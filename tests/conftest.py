"""Fixtures shared by the test modules."""

import pytest

import imgprivacy as ip


@pytest.fixture(scope="session")
def faces():
    """The 400 Olivetti faces, loaded once per test session (read-only by convention)."""
    return ip.data.load_faces("olivetti")
