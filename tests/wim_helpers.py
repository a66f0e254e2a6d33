"""Switches for the WIM tests: force the pure-Python decoders, or run a test once per decoder path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inspector.unpack import wimcodec


def require_native() -> None:
    """Skip unless wimlib's decoders are loadable (Debian ``libwim15``) and not switched off."""
    if not wimcodec.native_available():
        pytest.skip("needs libwim15 (wimlib's decoders)")


@pytest.fixture
def pure_python(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pure-Python decoders only, in this process and in the subprocesses it starts."""
    monkeypatch.setenv(wimcodec.PURE_ENV, "1")
    wimcodec.use_native(None)
    yield


@pytest.fixture(params=["wimlib", "python"])
def decoder_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test using it runs twice: with wimlib's decoders (skipped when absent) and with pure Python."""
    wimcodec.use_native(None)
    if request.param == "python":
        monkeypatch.setenv(wimcodec.PURE_ENV, "1")
    else:
        monkeypatch.delenv(wimcodec.PURE_ENV, raising=False)
        require_native()
    yield request.param
