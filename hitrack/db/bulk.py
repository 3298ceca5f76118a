"""Many rows into one table at once: PostgreSQL COPY, or chunked executemany elsewhere.

A settlement writes one allocation row and one ledger posting per creator:
tens of thousands for a large model. Through the ORM each row is an object and
a share of a statement; here the rows stream into the session's own
connection, inside its transaction, so they commit or roll back with the
rest of the unit of work. COPY binds no parameters at all, so no row count
meets PostgreSQL's 65,535 bind-parameter limit; on SQLite an executemany runs
each chunk as one prepared statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["insert_rows", "CHUNK_ROWS"]

CHUNK_ROWS = 5_000
"""Rows per executemany where COPY is not available (bounded memory per statement)."""


def insert_rows(
    db: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; the number inserted.

    Runs on the session's connection inside its current transaction (nothing
    is committed). Defaults of columns not named are the database's (server
    defaults) on PostgreSQL, so pass every column that has only a Python-side
    default.
    """
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        preparer = connection.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        sql = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
        dbapi_error = connection.dialect.loaded_dbapi.Error
        count = 0
        try:
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        except dbapi_error as error:
            # The same exceptions as any statement of the session (IntegrityError for a
            # unique row written meanwhile, OperationalError for a timeout).
            raise DBAPIError.instance(sql, None, error, dbapi_error) from error
        return count
    statement = insert(table)
    count = 0
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])
        count += len(chunk)
    return count
