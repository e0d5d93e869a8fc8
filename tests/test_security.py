"""Nothing let in: record paths stay inside the results folder, plugin names never become paths,
the MLflow server never binds every interface by another spelling, no credential in a tracking
URI is written anywhere, a local Ray instance listens on loopback only with a private token,
and labels or messages never break (or inject markup into) the Markdown tables."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from bench import registry
from bench.cli import main
from bench.errors import BenchError, PluginError
from bench.files import sha256_file
from bench.local_cluster import free_port
from bench.results import ResultStore

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
         "--bits", "16", "--no-report", "--no-ray"]


# --------------------------------------------------------------------------- 8. record paths


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A results folder with two finished lsh records (seeds 0 and 1), no tracking."""
    results = tmp_path_factory.mktemp("template") / "results"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1", "--results",
                 str(results), "--tracking-uri", "none"]) == 0
    return results


def _outside(finished: Path, tmp_path: Path, how: str) -> tuple[Path, Path, dict]:
    """A copy of ``finished`` whose first record names a codes file outside the folder (a
    copy of its own codes, so the SHA-256 matches), written ``how``: '..', absolute, or a
    symlink inside codes/ that points out. Returns (results, outside file, record JSON)."""
    results = tmp_path / "results"
    shutil.copytree(finished, results)
    rec_file = sorted((results / "records").rglob("*.json"))[0]
    data = json.loads(rec_file.read_text())
    elsewhere = tmp_path / "elsewhere" / "secret.npz"
    elsewhere.parent.mkdir()
    shutil.move(results / data["codes"]["file"], elsewhere)
    if how == "..":
        data["codes"]["file"] = "codes/../../elsewhere/secret.npz"
    elif how == "absolute":
        data["codes"]["file"] = str(elsewhere)
    else:
        (results / data["codes"]["file"]).symlink_to(elsewhere)
    assert data["codes"]["sha256"] == sha256_file(elsewhere)
    data["metrics"]["16"]["i2t"]["map_all"] = 0.123  # a recompute would have to change it
    data["tracking_state"] = "pending"  # and a sync would have to upload it
    rec_file.write_text(json.dumps(data))
    return results, elsewhere, data


def test_inside_refuses_every_way_out(tmp_path):
    from bench.files import inside

    (tmp_path / "codes").mkdir()
    (tmp_path / "codes" / "out").symlink_to(tmp_path.parent)
    assert inside(tmp_path, "codes/k.npz") == tmp_path.resolve() / "codes" / "k.npz"
    for bad in ("../x.npz", "codes/../../x.npz", "/etc/passwd", "codes/out/x.npz", "", ".",
                None, 3, "codes/\x00.npz"):
        with pytest.raises(BenchError):
            inside(tmp_path, bad)


@pytest.mark.parametrize("how", ["..", "absolute", "symlink"])
def test_a_record_pointing_outside_is_not_finished(finished, tmp_path, how):
    results, _, data = _outside(finished, tmp_path, how)
    store = ResultStore(results)
    done, _ = store.check_finished(data["method"], data["dataset"], data["key"])
    assert not done  # the driver redoes the trial instead of trusting a file elsewhere
    with pytest.raises(BenchError, match="outside"):
        store.codes_file(_record(data))


def _record(data: dict):
    from bench.schema import ResultRecord

    return ResultRecord.from_json(data)


def test_a_record_pointing_outside_is_quarantined_not_counted(finished, tmp_path):
    results, _, data = _outside(finished, tmp_path, "..")
    read = ResultStore(results).scan()  # a reading command: skipped, left where it is
    assert data["key"] not in {r.key for r in read.records} and len(read.records) == 1
    assert read.unreadable and "outside" in read.unreadable[0][1] and not read.quarantined
    scan = ResultStore(results).scan(quarantine=True)  # bench run sets it aside
    assert data["key"] not in {r.key for r in scan.records} and len(scan.records) == 1
    assert scan.quarantined and "outside" in scan.quarantined[0][2]


def test_recompute_never_reads_a_file_outside(finished, tmp_path, capsys):
    from bench.recompute import recompute_record

    results, _, data = _outside(finished, tmp_path, "absolute")
    assert recompute_record(ResultStore(results), _record(data))[0] == "skipped"
    assert main(["leaderboard", "--results", str(results), "--recompute"]) == 0
    out = capsys.readouterr()
    assert f"updated {data['key']}" not in out.out + out.err
    assert list((results / "records").rglob(f"{data['key']}.json"))  # reading moves nothing


def test_the_report_never_reads_codes_outside(finished, tmp_path):
    from bench.report.data import Results, load_results

    results, _, data = _outside(finished, tmp_path, "symlink")
    rec = _record(data)
    assert Results(results.resolve(), {rec.key: rec}, pd.DataFrame()).codes(rec.key) is None
    assert data["key"] not in load_results(results).records


def test_mlflow_sync_never_uploads_a_file_outside(finished, tmp_path, capsys):
    results, elsewhere, data = _outside(finished, tmp_path, "..")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    main(["mlflow", "sync", "--results", str(results), "--tracking-uri", store])
    capsys.readouterr()
    secret = elsewhere.read_bytes()
    uploaded = [p for p in results.rglob("*") if p.is_file() and p.read_bytes() == secret]
    assert uploaded == []  # not in mlartifacts/ (nor anywhere in the folder)
    from bench.mlflow_sync import SyncReport, _Failed, _Target

    target = _Target.open(store, "bench", results)
    with pytest.raises(_Failed, match="outside"):
        target.upload(_record(data), ResultStore(results), None, SyncReport())


def test_names_that_are_not_file_names_build_no_path(tmp_path):
    store = ResultStore(tmp_path)
    for method, dataset, key in (("../x", "d", "k"), ("m", "a/b", "k"), ("m", "d", "../../k"),
                                 (".hidden", "d", "k")):
        with pytest.raises(BenchError, match="cannot be a file name"):
            store.record_path(method, dataset, key)
    with pytest.raises(BenchError):
        store.codes_path("../k")


# --------------------------------------------------------------------------- 9. plugin names


def _install(root: Path, entries: dict[str, str]) -> Path:
    """A third-party plugin distribution: a module and a dist-info folder with entry points."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sec_plugin.py").write_text(textwrap.dedent("""
        import dataclasses
        from bench.methods.lsh import SPEC as _LSH
        GOOD = dataclasses.replace(_LSH, name="good-plug")
        EVIL = dataclasses.replace(_LSH, name="../../evil")
    """))
    info = root / "sec_plugin-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sec-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[bench.methods]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    return root


def test_an_entry_point_named_as_a_path_is_refused(tmp_path, monkeypatch, capsys):
    from bench.plugins import MethodSpec
    from bench.registry import Registry

    root = _install(tmp_path / "site", {"good-plug": "sec_plugin:GOOD",
                                        "../../evil": "sec_plugin:EVIL"})
    monkeypatch.syspath_prepend(str(root))
    reg = Registry("method", MethodSpec, {"lsh": "bench.methods.lsh:SPEC"}, "bench.methods")
    names = reg.names()
    assert "good-plug" in names and "../../evil" not in names
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'../../evil'" in err[0] and "sec-plugin" in err[0]
    with pytest.raises(PluginError, match="unknown method"):
        reg.get("../../evil")
    assert reg.get("good-plug").name == "good-plug"


def test_the_cli_lists_plugins_without_the_refused_one(tmp_path):
    root = _install(tmp_path / "site", {"Bad/Name": "sec_plugin:GOOD"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
    out = subprocess.run([sys.executable, "-m", "bench", "ls", "methods"], capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=60)
    assert out.returncode == 0 and "Bad/Name" not in out.stdout
    assert "ignoring method plugin 'Bad/Name'" in out.stderr


def test_register_refuses_bad_names_and_builtins_fit():
    for bad in ("../x", "UPPER", ".dot", "a/b", "x" * 65, ""):
        with pytest.raises(PluginError, match="plugin name must match"):
            registry.methods.register(bad, "bench.methods.lsh:SPEC")
    import re

    from bench.files import NAME_PATTERN

    for name in registry.methods.names() + registry.datasets.names():
        assert re.fullmatch(NAME_PATTERN, name), name


# --------------------------------------------------------------------------- 10. MLflow host

EVERY_INTERFACE = ["0", "0.0.0.0", "0.0.0.0.", "00", "0.0", "0x0", "000.000.000.000", "::",
                   "::0", "0000::", "0:0:0:0:0:0:0:0", "[::]", "[::0]", "::ffff:0.0.0.0",
                   "[::ffff:0:0]", "*", " 0.0.0.0 ", ""]
ONE_INTERFACE = ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]


@pytest.mark.parametrize("host", EVERY_INTERFACE)
def test_every_spelling_of_all_interfaces_is_refused(host, tmp_path):
    from bench.mlflow_server import server_command

    with pytest.raises(BenchError, match="every network interface"):
        server_command(host, 5000, tmp_path)
    with pytest.raises(BenchError, match="every network interface"):
        server_command(host, 5000, tmp_path, allow_all_interfaces=True)  # no --basic-auth
    assert "--app-name" in server_command(host, 5000, tmp_path, basic_auth=True,
                                          allow_all_interfaces=True)
    from bench.mlflow_server import binds_all_interfaces

    assert binds_all_interfaces(host)


@pytest.mark.parametrize("host", ONE_INTERFACE)
def test_one_address_is_accepted(host, tmp_path):
    from bench.mlflow_server import server_command

    assert server_command(host, 5000, tmp_path)[5] == host
    from bench.mlflow_server import binds_all_interfaces

    assert not binds_all_interfaces(host)


def test_a_host_name_resolving_to_all_interfaces_is_refused(monkeypatch, tmp_path):
    from bench import mlflow_server

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "everywhere.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("0.0.0.0", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(mlflow_server.socket, "getaddrinfo", fake)
    with pytest.raises(BenchError, match="every network interface"):
        mlflow_server.server_command("everywhere.example", 5000, tmp_path)
    with pytest.raises(BenchError, match="does not resolve"):
        mlflow_server.server_command("no-such-host.invalid", 5000, tmp_path)


def test_a_real_start_on_another_spelling_is_refused(tmp_path):
    import signal

    port, store = free_port(), tmp_path / "mlflow"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "mlflow", "serve", "--host", "::0",
                             "--port", str(port), "--store", str(store)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its uvicorn worker
        proc.wait()
        pytest.fail("bench mlflow serve --host ::0 started a server on every interface")
    assert proc.returncode == 2 and err.count("\n") == 1
    assert "every network interface" in err and not store.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --------------------------------------------------------------------------- 11. URIs

CREDENTIAL_URIS = ["postgresql://u:p@h/db", "mysql+pymysql://u:p@h/db", "mssql://sa:pw@h/db",
                   "postgresql://u:@h/db", "http://u:p@h:5000", "http://u@h:5000",
                   "https://h/?token=abc", "http://h:5000/?password=x",
                   "https://h/api?access_token=x", "http://h/?apiKey=1",
                   "postgresql://h/db?sslpassword=x", "sqlite:////tmp/x.db?secret=1",
                   "mssql+pyodbc:///?odbc_connect=DRIVER%3Dx%3BPWD%3Ds"]


@pytest.mark.parametrize("uri", CREDENTIAL_URIS)
def test_a_uri_with_credentials_is_refused_before_anything_is_written(uri, tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0", "--results", str(results),
                 "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "credentials in the URI" in err[0]
    assert "MLFLOW_TRACKING_PASSWORD" in err[0] and uri not in err[0]
    assert not results.exists() or not any(results.rglob("*.json"))
    assert main(["mlflow", "sync", "--results", str(tmp_path), "--tracking-uri", uri]) == 2


@pytest.mark.parametrize("uri", ["sqlite:////tmp/x.db", "http://127.0.0.1:5000",
                                 "postgresql://u@h/db", "postgresql://h/db?sslmode=require",
                                 "mysql://h/db?auth_plugin=mysql_native_password",
                                 "databricks://profile", "file:///tmp/mlruns"])
def test_a_uri_without_credentials_is_accepted(uri):
    from bench.tracking import check_uri

    check_uri(uri)


# --------------------------------------------------------------------------- 12. Ray

PROBE = """
import json, os, subprocess
from bench.runner.ray_session import connect
connect(num_cpus=1)
import ray
ray.get(ray.remote(lambda: 1).remote())
kids = {}
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        kids.setdefault(int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]),
                        []).append(int(p))
    except OSError:
        pass
mine, todo = set(), [os.getpid()]
while todo:
    q = todo.pop(); mine.add(q); todo += kids.get(q, [])
lines = subprocess.run(["ss", "-H", "-ltnup"], capture_output=True, text=True).stdout
print(json.dumps([ln.split()[4] for ln in lines.splitlines()
                  if any(f"pid={p}," in ln for p in mine)]))
ray.shutdown()
"""


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_a_local_ray_instance_listens_on_loopback_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")
           and k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), RAY_USAGE_STATS_ENABLED="0")
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    listening = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(listening) >= 3  # GCS, raylet, a worker at least
    hosts = {addr.rpartition(":")[0] for addr in listening}
    assert hosts <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}, listening
    token = home / ".ray" / "auth_token"
    assert token.is_file() and stat.S_IMODE(token.stat().st_mode) == 0o600


def test_a_token_file_others_can_read_is_warned_about_once(tmp_path, monkeypatch, capsys):
    from bench.runner import ray_session

    token = tmp_path / "token"
    token.write_text("t")
    token.chmod(0o644)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    ray_session.warn_readable_token()
    ray_session.warn_readable_token()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(token) in err[0] and "0644" in err[0]
    token.chmod(0o600)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "other"))
    ray_session.warn_readable_token()
    assert capsys.readouterr().err == ""


def test_token_files_the_project_writes_are_private(tmp_path):
    """``write_private`` (the local cluster's token, a local instance's first token) makes a
    0600 file whatever the umask, also over an existing readable one."""
    from bench.files import write_private

    old = os.umask(0)
    try:
        fresh = write_private(tmp_path / "fresh", "secret", exclusive=True)
        (tmp_path / "old").write_text("x")
        os.chmod(tmp_path / "old", 0o644)
        over = write_private(tmp_path / "old", "secret")
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (fresh, over)} == {0o600}
    assert over.read_text() == "secret"
    with pytest.raises(FileExistsError):
        write_private(fresh, "other", exclusive=True)


# --------------------------------------------------------------------------- 13. Markdown

EVIL = "a|b\nc <script>alert(1)</script>"


def _check_table(text: str, columns: int) -> None:
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    for row in rows:
        cells = row.replace("\\|", "").count("|") - 1
        assert cells == columns, row
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_the_leaderboard_escapes_labels_and_messages(tmp_path):
    from bench.leaderboard import write_leaderboard
    from bench.schema import (
        Definition,
        ErrorInfo,
        ResultRecord,
        TrialConfig,
        failed_record,
        record_identity,
    )

    store = ResultStore(tmp_path)
    for seed in (0, 1):
        d = Definition(method="lsh", method_version="1", dataset="toy", dataset_version="1",
                       preset={"name": "p"}, bits=(16,), budget="all", seed=seed,
                       params={"center": EVIL}, protocol_version=2, k_values=(50,))
        cfg = TrialConfig(definition=d, budget=None, results_dir="/r", cache_dir="/c",
                          requested_seeds=(0, 1))
        if seed:
            store.write_record(failed_record(cfg, ErrorInfo("ValueError", EVIL, "fit")))
            continue
        m = {"map_all": 0.5, "map_at_k": {"50": 0.6}, "p_at_k": {"50": 0.5},
             "map_tie_aware": 0.49, "n_queries": 10, "n_empty_queries": 0}
        store.write_record(ResultRecord(key=cfg.key, status="finished", n_train=10,
                                        **record_identity(cfg),
                                        metrics={"16": {"i2t": m, "t2i": m}}))
    md = write_leaderboard(tmp_path)["markdown"].read_text()
    table, failed = md.split("## Failed trials")
    header = next(ln for ln in table.splitlines() if ln.startswith("| method"))
    _check_table(table, header.count("|") - 1)
    _check_table(failed, 6)
    assert "a\\|b c &lt;script&gt;" in md


def test_report_markdown_escapes_labels(tmp_path):
    from bench.report.build import Report, Section
    from bench.report.markdown import render_markdown
    from bench.report.tables import Table

    display = pd.DataFrame({"method": [EVIL], "mAP": ["0.5"]})
    table = Table("t", f"title {EVIL}", "protocol", display, display, notes=[EVIL])
    sec = Section(f"ds {EVIL}", [f"summary {EVIL}"], tables=[table], notes=[EVIL])
    md = render_markdown(Report("r", [EVIL], [sec], []), {})
    assert "<script>" not in md and "&lt;script&gt;" in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert rows and all(r.replace("\\|", "").count("|") == 3 for r in rows)
    assert "| a\\|b c &lt;script&gt;alert(1)&lt;/script&gt; | 0.5 |" in md
