"""A real Prometheus server scraping `baton up` sees all four services up."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.baton_up import SERVICES, baton_up
from tools.devservers.ports import free_port

pytestmark = pytest.mark.acceptance


def test_prometheus_sees_every_service_up(tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: `make tools` installs it (Debian package)"
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        targets = [f"127.0.0.1:{up.metrics_port(s)}" for s in SERVICES]
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: baton\n    static_configs:\n      - targets: {json.dumps(targets)}\n"
        )
        port = free_port()
        with (tmp_path / "prometheus.log").open("wb") as log:
            prometheus = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            query = urllib.parse.urlencode({"query": 'up{job="baton"}'})
            deadline = time.monotonic() + 60
            up_targets: set[str] = set()
            while time.monotonic() < deadline and len(up_targets) < 4:
                time.sleep(1)
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=2
                    ) as r:
                        result = json.loads(r.read())["data"]["result"]
                except urllib.error.HTTPError as not_ready:  # 503 while Prometheus starts
                    not_ready.close()
                    continue
                except OSError:
                    continue
                up_targets = {s["metric"]["instance"] for s in result if s["value"][1] == "1"}
            assert up_targets == set(targets), (tmp_path / "prometheus.log").read_text()[-2000:]
        finally:
            prometheus.terminate()
            prometheus.wait(30)
