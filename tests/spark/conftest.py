"""One local SparkSession for the Spark engine's tests.

Without PySpark or Java these tests skip, except where Spark is required:
``CI=true`` or ``HITRACK_REQUIRE_SPARK=1`` turn a missing Spark into a failure,
so CI can never silently skip the Spark engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

REQUIRE_SPARK = os.environ.get("CI") == "true" or os.environ.get("HITRACK_REQUIRE_SPARK") == "1"


def spark_missing() -> str | None:
    from hitrack.domain.errors import InvalidInput
    from hitrack.spark.session import require_spark

    try:
        require_spark()
    except InvalidInput as error:
        return str(error)
    return None


HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = spark_missing()
    if missing is None or REQUIRE_SPARK:
        return
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(
                pytest.mark.skip(reason=f"Spark tests need PySpark and Java: {missing}")
            )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if REQUIRE_SPARK and str(item.path).startswith(HERE):
        missing = spark_missing()
        if missing is not None:
            pytest.fail(f"Spark is required here (CI or HITRACK_REQUIRE_SPARK=1): {missing}")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """Spark in local mode on two cores; a lost task is retried (up to 3 attempts)."""
    from hitrack.spark.session import spark_session

    session = spark_session(
        "local[2,3]",
        app_name="hitrack-tests",
        shuffle_partitions=2,
        conf={
            "spark.default.parallelism": "2",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
        },
    )
    yield session
    session.stop()
