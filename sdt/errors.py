"""The one exception type for bad input: its message names the offending file and the problem."""


class InputError(ValueError):
    """Raised when an input (video, keypoints, released data, config value) cannot be used as it is."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
