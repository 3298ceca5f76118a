"""The data folder does not depend on the directory a command is started from."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitrack.settings import PROJECT_ROOT, Settings


def test_the_default_data_dir_is_the_project_s_instance_folder_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == PROJECT_ROOT / "instance" and settings.data_dir.is_absolute()
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'hitrack.sqlite3'}"
    assert settings.media_root == PROJECT_ROOT / "instance" / "media"
    assert not (tmp_path / "instance").exists()


def test_hitrack_data_dir_still_chooses_the_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"HITRACK_DATA_DIR": str(tmp_path / "elsewhere")})
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.mailbox_dir == tmp_path / "elsewhere" / "mailbox"
