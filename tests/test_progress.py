"""The trial step clock and the compact progress view."""

from __future__ import annotations

import io
import mmap
import time

import pytest

from bench.memory import peak_mib, reset_peak
from bench.runner.driver import Execution, RunRequest, plan
from bench.runner.progress import ProgressView, TrialProgress, trial_label
from bench.runner.stages import StageClock


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    req = RunRequest(methods=["lsh"], bits=(16, 32), dataset="synthetic-features",
                     seeds=(0, 1), dataset_options={"n_items": 400}, preset="small",
                     results_dir=results, device="cpu", tracking_uri="none", report=False,
                     execution=Execution(in_process=True))
    return plan(req, lambda msg: None, run_id="run-test").todo


def test_stage_clock_times_steps_and_excludes_harness_time():
    clock = StageClock()
    clock.enter("fit")
    time.sleep(0.05)
    clock.harness(time.sleep)(0.05)  # e.g. waiting for Ray Tune to take a report
    clock.enter("encode")
    # 40 MiB of fresh anonymous pages touched inside "encode" (an explicit mapping: a numpy
    # array could reuse memory the process already holds after a long suite)
    block = mmap.mmap(-1, 40 * 2**20)
    for offset in range(0, len(block), mmap.PAGESIZE):
        block[offset] = 1
    prof = clock.profile()  # while the block is resident (the high-water mark syncs lazily)
    block.close()
    assert list(prof) == ["setup", "fit", "encode"]
    assert 0.04 <= prof["fit"]["s"] < 0.09 and prof["fit"]["harness_s"] >= 0.04
    assert clock.seconds("fit") == pytest.approx(prof["fit"]["s"], abs=1e-3)
    if reset_peak():  # Linux: each step has its own peak
        assert prof["encode"]["peak_rss_mib"] >= prof["encode"]["start_rss_mib"] + 35
        assert peak_mib() > 0


def test_progress_view_shows_running_trials_and_counts(configs, tmp_path):
    out = io.StringIO()
    view = ProgressView(configs, tmp_path, "run-test", stream=out, live=False,
                        interval=0.05, heartbeat=0.1)
    with view:
        first = configs[0]
        trial = TrialProgress(view.folder / f"{first.key}.json")
        trial.stage("fit")
        trial.epoch(3)
        trial._write()
        time.sleep(0.3)
        running = view.status_line(with_running=True)
        trial.end("finished")
        time.sleep(0.2)
    text = out.getvalue()
    label = trial_label(first)
    assert label.startswith("lsh 16 bits seed 0")
    assert "1 running" in running and f"{label} (fit epoch 3" in running
    assert f"[1/{len(configs)}] {label}: finished" in text
    assert f"bench: {len(configs)} trial(s): 1 finished, {len(configs) - 1} without an end" in text
    assert not view.folder.exists()  # the progress files go with the run
