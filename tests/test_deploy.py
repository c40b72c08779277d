"""The files in deploy/, each checked by its own tool from Debian's packages.

systemd units by `systemd-analyze verify` (any warning fails: systemd only warns about an unknown
or misspelt directive), the Caddyfile by `caddy validate`, the nginx site by `nginx -t` inside a
minimal main config of the test's own (with a throwaway certificate, since nginx opens the
certificate files). Each unit must start a command the relay has, and each proxy must point at
the address config.example.toml listens on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
EXAMPLE = DEPLOY.parent / "config.example.toml"
INSTALLED_RELAY = "/opt/relay/.venv/bin/relay"
UNITS = ("relay.service", "relay-worker.service")


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    assert path, f"{name} is missing: `make setup-system` installs it (Debian package)"
    return path


def _listen() -> str:
    listen: str = tomllib.loads(EXAMPLE.read_text())["relay"]["listen"]
    return listen


def _here_relay() -> str:
    """The relay console script of this checkout's virtual environment."""
    return str(Path(sys.executable).with_name("relay"))


def _verify_unit(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    unit = tmp_path / name
    unit.write_text(text)
    return subprocess.run(
        [_tool("systemd-analyze"), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", UNITS)
def test_systemd_unit_verifies_without_a_warning(tmp_path: Path, name: str) -> None:
    text = (DEPLOY / name).read_text()
    assert INSTALLED_RELAY in text
    # systemd-analyze checks that ExecStart exists: point it at this checkout's relay.
    result = _verify_unit(tmp_path, name, text.replace(INSTALLED_RELAY, _here_relay()))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_a_misspelt_directive_is_caught(tmp_path: Path) -> None:
    text = (DEPLOY / "relay.service").read_text().replace(INSTALLED_RELAY, _here_relay())
    misspelt = text.replace("NoNewPrivileges=", "NoNewPrivilege=")
    result = _verify_unit(tmp_path, "bad.service", misspelt)
    assert "NoNewPrivilege" in result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_systemd_unit_runs_a_relay_command(name: str) -> None:
    text = (DEPLOY / name).read_text()
    match = re.search(r"^ExecStart=(\S+) (.+)$", text, re.MULTILINE)
    assert match and match.group(1) == INSTALLED_RELAY
    args = match.group(2).split()
    result = subprocess.run(
        [_here_relay(), *args, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "KillSignal=SIGTERM"):
        assert directive in text


def test_caddyfile_validates_and_proxies_to_the_relay() -> None:
    caddyfile = DEPLOY / "Caddyfile"
    assert f"reverse_proxy {_listen()}" in caddyfile.read_text()
    result = subprocess.run(
        [_tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    site = (DEPLOY / "nginx-relay.conf").read_text()
    assert f"server {_listen()};" in site
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            _tool("openssl"),
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=pay.example.com", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = re.sub(r"ssl_certificate (\S+);", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key (\S+);", f"ssl_certificate_key {key};", site)
    (tmp_path / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp_path / 'site.conf'};\n}}\n"
    )
    result = subprocess.run(
        [_tool("nginx"), "-t", "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_proxies_close_idle_connections_before_the_relay_does() -> None:
    """A proxy must never send a webhook on a connection the relay is closing as idle: its
    idle keep-alive to the relay stays below the relay's channel_timeout_seconds."""
    relay = tomllib.loads(EXAMPLE.read_text())["relay"]
    timeout = relay["channel_timeout_seconds"]
    nginx = re.search(r"upstream relay \{[^}]*keepalive_timeout (\d+)s;", _text("nginx-relay.conf"))
    caddy = re.search(r"transport http \{[^}]*keepalive (\d+)s", _text("Caddyfile"))
    assert nginx and caddy
    assert int(nginx.group(1)) < timeout and int(caddy.group(1)) < timeout
    # the proxies' comments send the operator to this key, and the example shows its value
    assert 'trusted_proxy = "127.0.0.1"' in EXAMPLE.read_text()
    for name in ("Caddyfile", "nginx-relay.conf"):
        assert "relay.trusted_proxy" in _text(name)


def _text(name: str) -> str:
    return (DEPLOY / name).read_text()
