"""`bench tune` without Ray: search spaces (declared and --space), their checks against each
parameter's type and range, the bad-input cases (one line, exit 2, nothing written), study
bookkeeping with the Optuna API, and the tuned rows of the leaderboard."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from bench import registry
from bench.cli import main
from bench.errors import BenchError
from bench.leaderboard import method_label, tuning_table
from bench.schema import ResultRecord
from bench.tuning import study as studies
from bench.tuning.space import (
    describe_space,
    fixed_params,
    method_space,
    parse_space_args,
    parse_spec,
    spec_space,
)


def test_every_declared_space_is_valid_and_the_tunable_methods_have_one():
    for name in registry.methods.names():
        spec = registry.methods.get(name)
        spec_space(spec)  # raises for an unknown parameter, distribution or a bad range
    for name in ("gnah", "cca-itq", "prompthash", "prompthash-clean"):
        assert spec_space(registry.methods.get(name)), name
    assert spec_space(registry.methods.get("lsh")) == {}
    assert registry.methods.get("gnah").iterative and not registry.methods.get("cca-itq").iterative


def test_space_overrides_and_optuna_distributions():
    gnah = registry.methods.get("gnah")
    space = method_space(gnah, {"tau": "loguniform:0.05:1.0", "epochs": "logint:10:500",
                                "k": "choice:elbow,4,8", "lr": "off"})
    assert describe_space(space) == {
        "beta": "uniform:0:1", "epochs": "logint:10:500",
        "gamma": "choice:0,0.002,0.005,0.01,0.02,0.05", "k": "choice:elbow,4,8",
        "tau": "loguniform:0.05:1"}
    assert space["tau"].distribution() == FloatDistribution(0.05, 1.0, log=True)
    assert space["epochs"].distribution() == IntDistribution(10, 500, log=True)
    assert space["k"].distribution() == CategoricalDistribution(["elbow", 4, 8])
    assert space["gamma"].values[0] == 0.0 and isinstance(space["gamma"].values[0], float)
    # --set fixes a parameter: it leaves the space
    assert "tau" not in method_space(gnah, {}, fixed_params(gnah, {"gnah.tau": 0.5}))
    assert fixed_params(gnah, {"lr": 1e-3, "cca-itq.reg": 1.0}) == ["lr"]
    lsh = registry.methods.get("lsh")
    assert describe_space(method_space(lsh, {"center": "choice:true,false"})) == {
        "center": "choice:true,false"}


@pytest.mark.parametrize("method,overrides,fixed,message", [
    ("gnah", {"tau": "loguniform:0:1"}, (), "a log range needs low > 0"),
    ("gnah", {"tau": "normal:0:1"}, (), "unknown distribution 'normal'"),
    ("gnah", {"taux": "uniform:0:1"}, (), "has no hyperparameter 'taux'"),
    ("gnah", {"epochs": "uniform:1:100"}, (), "does not accept (it must be int >= 1)"),
    ("gnah", {"beta": "uniform:0:2"}, (), "must be float >= 0 and <= 1"),
    ("gnah", {"k": "choice:elbow,1"}, (), "must be int >= 2 or 'elbow'"),
    ("gnah", {"k": "choice:4,4"}, (), "listed twice"),
    ("gnah", {"lr": "uniform:0.1"}, (), "takes LOW:HIGH"),
    ("gnah", {"lr": "uniform:1:0.1"}, (), "low < high"),
    ("gnah", {"tau": "uniform:0.1:1"}, ("tau",), "also fixed by --set"),
    ("lsh", {}, (), "method 'lsh' has no search space; give one with --space lsh.PARAM=SPEC"),
    ("cca-itq", {"reg": "off", "eig_power": "off"}, (), "has no search space"),
])
def test_bad_spaces_are_one_line_errors(method, overrides, fixed, message):
    with pytest.raises(BenchError) as err:
        method_space(registry.methods.get(method), overrides, fixed)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_space_argument_syntax():
    assert parse_space_args(["gnah.tau=loguniform:0.05:1", "cca-itq.reg=off"],
                            ["gnah", "cca-itq"]) == {"gnah": {"tau": "loguniform:0.05:1"},
                                                     "cca-itq": {"reg": "off"}}
    for bad, message in [("gnah.tau", "expects METHOD.PARAM=SPEC"),
                         ("tau=uniform:0:1", "expects METHOD.PARAM=SPEC"),
                         ("lsh.center=choice:true,false", "not in --methods")]:
        with pytest.raises(BenchError, match=message):
            parse_space_args([bad], ["gnah"])
    assert parse_spec("gnah.lr", "off") is None


TUNE = ["tune", "--bits", "32", "--budgets", "80", "--preset", "gnah"]
GNAH = ["--methods", "gnah"]


@pytest.mark.parametrize("extra,message", [
    ([*GNAH, "--trials", "0"], "--trials must be an integer from 1"),
    ([*GNAH, "--space", "gnah.tauu=uniform:0.1:1"], "has no hyperparameter 'tauu'"),
    ([*GNAH, "--space", "gnah.tau=gauss:0.1:1"], "unknown distribution 'gauss'"),
    ([*GNAH, "--space", "gnah.epochs=uniform:10:100"], "parameter 'epochs' does not accept"),
    ([*GNAH, "--set", "gnah.nope=1"], "has no hyperparameter 'nope'"),
    (["--methods", "lsh"], "method 'lsh' has no search space"),
    ([*GNAH, "--storage", "redis://localhost"], "not an Optuna RDB storage URL"),
    ([*GNAH, "--study", "bad name!"], "--study 'bad name!'"),
    ([*GNAH, "--final-seeds", "0,x"], "final seeds must be integers"),
    ([*GNAH, "--asha-grace", "0"], "--asha-grace must be from 1 to 100000 rounds"),
    ([*GNAH, "--asha-grace", "100001"], "--asha-grace must be from 1 to 100000 rounds"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, extra, message):
    results = tmp_path / "results"
    assert main([*TUNE, *extra, "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error:") and message in err and len(err.splitlines()) == 1
    assert not results.exists()


def test_a_study_name_with_another_cell_definition_is_refused(tmp_path, capsys):
    results = tmp_path / "results"
    storage_url = studies.default_storage(results)
    storage = studies.open_storage(storage_url)
    studies.create_study(storage, "mine", {"definition": {"method": "gnah"}, "space": {},
                                           "search": {}})
    db = results / "tune" / "optuna.db"
    before = (db.stat().st_mtime_ns, db.stat().st_size, sorted(results.rglob("*")))
    assert main([*TUNE, *GNAH, "--study", "mine", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert "study 'mine' exists with another cell definition" in err
    assert len(err.splitlines()) == 1
    assert (db.stat().st_mtime_ns, db.stat().st_size, sorted(results.rglob("*"))) == before


def test_interrupted_trials_are_marked_and_not_counted(tmp_path):
    storage = studies.open_storage(f"sqlite:///{tmp_path / 'o.db'}")
    study = studies.create_study(storage, "s", {"x": 1})
    for value in (0.3, 0.5):
        t = study.ask({"a": FloatDistribution(0, 1)})
        study.tell(t, value)
    pruned = study.ask({"a": FloatDistribution(0, 1)})
    pruned.report(0.1, 1)
    study.tell(pruned, state=TrialState.PRUNED)
    study.ask({"a": FloatDistribution(0, 1)})  # a driver killed while this trial ran
    assert studies.reconcile(study) == [3]
    counted = studies.counted(study)
    assert [t.number for t in counted] == [0, 1, 2]
    assert studies.state_counts(counted) == {"finished": 2, "pruned": 1, "failed": 0}
    assert studies.best_of(counted[:1]).number == 0 and studies.best_of(counted).number == 1
    again = optuna.load_study(study_name="s", storage=storage)
    assert again.trials[3].state == TrialState.FAIL and again.trials[3].user_attrs["interrupted"]
    assert studies.reconcile(again) == []


def test_a_live_driver_on_the_same_host_keeps_its_study(tmp_path):
    import os

    storage = studies.open_storage(f"sqlite:///{tmp_path / 'o.db'}")
    study = studies.create_study(storage, "s", {"x": 1})
    studies.claim(study, "run-a", print)
    study.set_user_attr("active", {**study.user_attrs["active"], "pid": os.getppid()})
    with pytest.raises(BenchError, match="is being searched by process"):
        studies.claim(study, "run-b", print)
    studies.release(study)
    studies.claim(study, "run-b", print)


def _record(seed: int, params: dict, tuning: dict | None, value: float) -> ResultRecord:
    definition = {"method": "gnah", "dataset": "d", "bits": [32], "budget": "80", "seed": seed,
                  "params": params, "preset": {"name": "gnah"}}
    if tuning:
        definition["tuned_by"] = tuning["study"]
    metrics = {"32": {d: {"map_all": value, "map_tie_aware": value} for d in ("i2t", "t2i")}}
    return ResultRecord(key=f"k{seed}{bool(tuning)}", status="finished", definition=definition,
                        method="gnah", dataset="d", bits=[32], budget="80", seed=seed,
                        params=params, metrics=metrics, tuning=tuning,
                        preset={"name": "gnah"}, run={"seeds": [0, 1]})


def test_tuned_rows_and_the_default_vs_tuned_view():
    defaults = {"tau": 1.0, "lr": 1e-4}
    origin = {"role": "final", "study": "st", "trials": 40, "best_trial": 7,
              "validation_score": 0.61, "space": {"tau": "loguniform:0.05:1"},
              "base_params": defaults, "pruned": 12}
    tuned_params = {"tau": 0.2, "lr": 1e-4}
    records = [_record(s, defaults, None, 0.50 + s / 100) for s in (0, 1)]
    records += [_record(s, tuned_params, origin, 0.60 + s / 100) for s in (0, 1)]
    assert method_label(records[0]) == "gnah"
    assert method_label(records[2]) == "gnah (tuned: 40 trials)"  # tau is the study's
    table = tuning_table(records)
    assert len(table) == 2 and list(table["direction"]) == ["I→T", "T→I"]
    row = table.iloc[0]
    assert row["default"].startswith("0.5050 ± ") and row["tuned"].startswith("0.6050 ± ")
    assert row["delta"] == "+0.1000" and row["trials"] == 40 and row["study"] == "st"
    assert tuning_table(records, studies={"other"}).empty
