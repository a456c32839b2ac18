"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_tanhnet import TanhNetRegressor

ESTIMATORS = [
    TanhNetRegressor((5,), random_state=0),
    TanhNetRegressor((5,), method="lm", random_state=0),
    TanhNetRegressor((4, 3), solver="adam", learning_rate=0.01, random_state=0),
    # The width by evidence: four fits a check, so few iterations each.
    TanhNetRegressor("auto", max_iter=20, random_state=0),
]


def _estimator_id(estimator):
    return f"{estimator.solver}-{estimator.hidden_layer_sizes}"


# scikit-learn's own common tests ignore ConvergenceWarning the same way: several
# checks fit on a handful of rows or with max_iter=1 on purpose.
@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_estimator_id)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_estimator_id)
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def test_default_estimators_pass_regressors_train():
    """The defaults of both solvers learn the check's data (R^2 > 0.5)."""
    from sklearn.utils.estimator_checks import check_regressors_train

    for est in (
        TanhNetRegressor(random_state=0),
        TanhNetRegressor(solver="adam", random_state=0),
    ):
        check_regressors_train(type(est).__name__, est)
