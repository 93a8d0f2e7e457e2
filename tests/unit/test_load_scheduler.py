"""The load harness warns of autogroup scheduling only when it is on."""

from pathlib import Path

import pytest

from tests.load.scheduler import autogroup_warning


@pytest.mark.parametrize(("content", "warns"), [("1\n", True), ("0\n", False)])
def test_the_warning_follows_the_setting(tmp_path: Path, content: str, warns: bool) -> None:
    setting = tmp_path / "sched_autogroup_enabled"
    setting.write_text(content)
    warning = autogroup_warning(setting)
    assert (warning is not None) == warns
    if warning:
        assert "sysctl -w kernel.sched_autogroup_enabled=0" in warning


def test_no_warning_where_the_kernel_has_no_such_setting(tmp_path: Path) -> None:
    assert autogroup_warning(tmp_path / "absent") is None
