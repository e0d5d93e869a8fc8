"""cluster.yaml and cluster-aws.yaml pass Ray's own config validation (what `ray up` runs), and
say what the cluster needs: the same token on every node, the MLflow server bound to the head's
address on shared storage, the CUDA extras; `bench mlflow serve` refuses every interface."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path

import pytest
import yaml

from bench.cli import main
from bench.cli.app import build_parser

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def bootstrap_local(config: dict) -> dict:
    """`ray up`'s own preparation and validation of a local-provider config."""
    from ray.autoscaler._private.commands import _bootstrap_config

    return _bootstrap_config(copy.deepcopy(config), no_config_cache=True)


def serve_args(command: str) -> list[str]:
    """The `bench mlflow serve ...` arguments of a start command (the head's address
    substituted)."""
    command = command.replace("$(cut -d: -f1 /tmp/ray/ray_current_cluster)", "10.0.0.1")
    words = shlex.split(command.split(">")[0])
    return words[words.index("bench") + 1:]


def test_cluster_yaml_passes_ray_validation_and_says_what_nodes_need():
    config = load("cluster.yaml")
    prepared = bootstrap_local(config)
    assert prepared["provider"]["type"] == "local"
    assert list(prepared["available_node_types"]) == ["local.cluster.node"]
    assert prepared["max_workers"] == len(config["provider"]["worker_ips"])
    # the same token file on every node, token mode in every start command
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[key] if "ray start" in c]
        assert starts and all("RAY_AUTH_MODE=token" in c for c in starts)
    setup = " ".join(config["setup_commands"])
    assert '".[clip,cuda]"' in setup and "/shared/bench" in setup
    # the MLflow server: on the head, its own address, shared store, accepted by the CLI
    serve = next(c for c in config["head_start_ray_commands"] if "mlflow serve" in c)
    args = build_parser().parse_args(serve_args(serve))
    assert args.host == "10.0.0.1" and args.port == 5000
    assert args.store.startswith("/shared/bench/") and not args.allow_all_interfaces
    assert "0.0.0.0" not in (ROOT / "cluster.yaml").read_text().split("\nprovider:")[1]


def test_ray_validation_rejects_a_broken_cluster_yaml():
    config = load("cluster.yaml")
    config["provider"]["worker_ip"] = config["provider"].pop("worker_ips")  # a typo
    with pytest.raises(BaseException):  # noqa: B017 - Ray's CLI logger aborts with SystemExit
        bootstrap_local(config)
    config = load("cluster.yaml")
    config["setup_command"] = config.pop("setup_commands")
    with pytest.raises(Exception, match="setup_command"):
        bootstrap_local(config)


def test_aws_variant_passes_ray_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load("cluster-aws.yaml")
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    assert prepared["available_node_types"]["gpu_worker"]["resources"]["GPU"] == 1
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    serve = next(c for c in config["head_start_ray_commands"] if "mlflow serve" in c)
    assert build_parser().parse_args(serve_args(serve)).host == "10.0.0.1"


@pytest.mark.parametrize("extra, expected", [
    (["--host", "0.0.0.0"], "every network interface"),
    (["--host", "0.0.0.0", "--allow-all-interfaces"], "needs --basic-auth"),
    (["--host", "127.0.0.1", "--port", "0"], "--port must be"),
])
def test_mlflow_serve_refuses_every_interface(tmp_path, capsys, extra, expected):
    assert main(["mlflow", "serve", "--store", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: ") and expected in err and err.count("\n") == 1


def test_tracking_uri_with_credentials_is_refused(tmp_path, capsys):
    assert main(["run", "--methods", "lsh", "--results", str(tmp_path), "--tracking-uri",
                 "http://admin:secret@127.0.0.1:5000"]) == 2
    err = capsys.readouterr().err
    assert "MLFLOW_TRACKING_USERNAME" in err and "secret" not in err
    assert not (tmp_path / "runs").exists()
