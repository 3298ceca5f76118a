"""One SparkSession for hitrack, built from plain values.

Spark runs from the JARs the ``pyspark`` package carries (nothing is fetched at
run time). Python workers run the driver's interpreter, so they import the same
``hitrack`` and pandas; on a cluster, install ``hitrack[spark]`` on the
executors (or ship it with ``spark.submit.pyFiles``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from hitrack.domain.errors import InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["spark_session", "require_spark"]


def require_spark() -> None:
    """Raise a one-line :class:`InvalidInput` when PySpark or Java is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as error:
        raise InvalidInput(
            f"the Spark engine needs the spark extra (pip install 'hitrack[spark]'): {error}"
        ) from None
    from shutil import which

    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else which("java")
    if not java or not os.path.exists(java):
        raise InvalidInput("the Spark engine needs Java 17 or later (java not found)")


def spark_session(
    master: str = "local[*]",
    *,
    app_name: str = "hitrack-settlement",
    shuffle_partitions: int | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (UI off, quiet logs).

    ``shuffle_partitions`` defaults to twice the local cores in local mode and
    to Spark's own default elsewhere.
    """
    require_spark()
    # Workers must run this interpreter (it has pandas, pyarrow and hitrack).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.pyspark.python", sys.executable)
    )
    if shuffle_partitions is None and master.startswith("local"):
        shuffle_partitions = 2 * (os.cpu_count() or 1)
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
