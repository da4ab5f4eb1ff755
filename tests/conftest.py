"""Fixtures shared by the test modules."""

import os
import tempfile

import pytest

# the built default overlay set is kept in a cache file: the tests keep theirs out of the user's home
os.environ.setdefault("IMGPRIVACY_CACHE", tempfile.mkdtemp(prefix="imgprivacy-test-cache-"))

import imgprivacy as ip


@pytest.fixture(scope="session")
def faces():
    """The 400 Olivetti faces, loaded once per test session (read-only by convention)."""
    return ip.data.load_faces("olivetti")
