"""Shared scaffolding for test callbacks of scikit-learn's callback API."""


class NoOpCallback:
    """A FitCallback whose hooks do nothing; tests override what they watch."""

    max_propagation_depth = None

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        return False
