"""What every step script does around its one function call: log to the rule's log file, and put the error that
ends the step into that log with its traceback (Snakemake's "check log file(s) for error details" then finds it;
it prints the same error on the console too)."""

import contextlib
import logging

FORMAT = "%(asctime)s %(levelname)s %(message)s"


@contextlib.contextmanager
def logged(log_path, level=logging.INFO):
    """``with logged(snakemake.log[0]): step(...)``: the step's log records go to ``log_path``; an exception that ends
    the step is logged there (message and traceback) and raised again, so the job still fails."""
    logging.basicConfig(filename=log_path, level=level, format=FORMAT, force=True)
    try:
        yield logging.getLogger("step")
    except BaseException as err:  # KeyboardInterrupt / SystemExit too: the log says why the step ended
        logging.getLogger("step").error("the step failed: %s: %s", type(err).__name__, err, exc_info=True)
        raise
    finally:
        logging.shutdown()
