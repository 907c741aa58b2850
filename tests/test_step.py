"""sdt.step: a step's log holds its records and the error that ended it."""

import logging

import pytest

from sdt.errors import InputError
from sdt.step import logged


def test_the_error_that_ends_a_step_is_in_its_log(tmp_path):
    log = tmp_path / "step.log"
    with pytest.raises(InputError, match="talk.mp4: no audio track"), logged(log):
        logging.getLogger("sdt.dataset.change_fps").info("converting talk.mp4")
        raise InputError("talk.mp4", "no audio track")
    text = log.read_text()
    assert "INFO converting talk.mp4" in text
    assert "ERROR the step failed: InputError: talk.mp4: no audio track" in text and "Traceback" in text


def test_a_step_that_succeeds_logs_no_error(tmp_path):
    log = tmp_path / "step.log"
    with logged(log) as step:
        step.info("done")
    assert "done" in log.read_text() and "ERROR" not in log.read_text()
