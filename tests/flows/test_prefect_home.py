"""A CLI run without a Prefect server keeps the embedded server's files in the project."""

from __future__ import annotations

from pathlib import Path

from flows.prefect_home import use_project_prefect_home


def test_no_server_configured_puts_the_home_under_the_project(tmp_path: Path) -> None:
    env = {"PREFECT_PROFILES_PATH": str(tmp_path / "none.toml")}
    home = use_project_prefect_home(env, cwd=tmp_path)
    assert home == tmp_path / ".revsync" / "prefect"
    assert env["PREFECT_HOME"] == str(home)
    assert home.is_dir()


def test_a_chosen_home_or_server_stands(tmp_path: Path) -> None:
    for chosen in ({"PREFECT_HOME": "/somewhere"}, {"PREFECT_API_URL": "http://h:4200/api"}):
        env = dict(chosen)
        assert use_project_prefect_home(env, cwd=tmp_path) is None
        assert env == chosen


def test_a_profile_that_names_a_server_stands(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "work"\n[profiles.work]\nPREFECT_API_URL = "http://h:4200/api"\n')
    env = {"PREFECT_PROFILES_PATH": str(profiles)}
    assert use_project_prefect_home(env, cwd=tmp_path) is None
    assert "PREFECT_HOME" not in env
