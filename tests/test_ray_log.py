"""Ray's own output goes to the run's log file (bench.runner.ray_log), and off the terminal
unless --verbose."""

from __future__ import annotations

import logging

import pytest

from bench.runner.ray_log import RAY_PRINTER, RayOutput, ray_log_path


@pytest.mark.parametrize("verbose", [False, True])
def test_ray_records_and_worker_output_go_to_the_file(tmp_path, verbose):
    from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher

    printed: list[dict] = []
    before = list(dispatcher.handlers)
    dispatcher.remove_handler(RAY_PRINTER)
    dispatcher.add_handler(RAY_PRINTER, printed.append)  # Ray's printer, as ray.init adds it
    shown: list[str] = []

    class Terminal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    terminal = Terminal()
    logging.getLogger("ray").addHandler(terminal)
    path = ray_log_path(tmp_path, "run-x")
    try:
        with RayOutput(path, verbose=verbose) as out:
            logging.getLogger("ray.tune.anything").warning("tune says hello")
            out.capture_workers()
            dispatcher.emit({"lines": ["a trial printed this"], "pid": 42, "ip": "127.0.0.1",
                             "is_err": False, "actor_name": "ImplicitFunc"})
        text = path.read_text()
        assert "tune says hello" in text
        assert "(ImplicitFunc pid=42, ip=127.0.0.1) a trial printed this" in text
        assert (shown == ["tune says hello"]) == verbose  # on the terminal only with --verbose
        assert bool(printed) == verbose
        # restored after the run: Ray's handlers and printer are back, the file's are gone
        logging.getLogger("ray").warning("after the run")
        assert shown[-1] == "after the run" and "after the run" not in path.read_text()
        assert [n for n, _ in dispatcher.handlers].count(RAY_PRINTER) == 1
    finally:
        logging.getLogger("ray").removeHandler(terminal)
        dispatcher.handlers = before
