"""Settings from a YAML/JSON file and the environment; refusing an open bind without a token."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sacfolio.exceptions import ConfigError
from sacfolio.serve.bind import check_bind
from sacfolio.serve.settings import ServeSettings, load_settings


def test_yaml_file_then_environment_override(tmp_path, monkeypatch):
    for key in ("SACFOLIO_HOME", "SACFOLIO_API_TOKEN", "SACFOLIO_MAX_BODY_BYTES"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "serve.yaml"
    path.write_text("home: /srv/models\nmax_body_bytes: 4096\nschedule:\n"
                    "  - {model: sac_price, mode: full, cron: '0 3 1 * *'}\n")
    s = load_settings(path)
    assert s.home == "/srv/models" and s.max_body_bytes == 4096
    assert [(e.mode, e.cron) for e in s.schedule] == [("full", "0 3 1 * *")]
    monkeypatch.setenv("SACFOLIO_MAX_BODY_BYTES", "8192")
    monkeypatch.setenv("SACFOLIO_API_TOKEN", "s3cret")
    s = load_settings(path)
    assert s.max_body_bytes == 8192 and s.home == "/srv/models" and s.token() == "s3cret"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(("content", "words"), [
    ({"no_such_setting": 1}, "no_such_setting"),
    ({"schedule": [{"model": "sac_price", "mode": "full", "cron": "61 * * * *"}]}, "not a valid crontab"),
    ({"models": ["sac_magic"]}, "unknown model names ['sac_magic']"),
    ({"fallback_weights": {"AAPL": 0.5, "CASH": 0.6}}, "sum to 1"),
    ({"fallback_weights": {"AAPL": -0.5, "CASH": 1.5}}, ">= 0"),
    ([1, 2], "mapping"),
])
def test_invalid_config_names_the_problem(tmp_path, content, words):
    path = tmp_path / "serve.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert words in str(info.value)


def test_non_loopback_needs_a_token_or_insecure():
    open_settings = ServeSettings(home="m", schedule=[])
    check_bind("127.0.0.1", open_settings, insecure=False)
    check_bind("::1", open_settings, insecure=False)
    check_bind("localhost", open_settings, insecure=False)
    with pytest.raises(ConfigError, match="SACFOLIO_API_TOKEN"):
        check_bind("0.0.0.0", open_settings, insecure=False)
    check_bind("0.0.0.0", open_settings, insecure=True)
    check_bind("0.0.0.0", ServeSettings(home="m", schedule=[], api_token="t"), insecure=False)


def test_serve_command_refuses_to_start_open_to_the_network(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SACFOLIO_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "sacfolio.cli", "serve", "--host", "0.0.0.0", "--port", "9"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without an API token" in done.stderr
