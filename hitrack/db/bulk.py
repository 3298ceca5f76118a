"""Bulk writes and look-ups that cost a few statements, however many rows.

A settlement writes one allocation row and one ledger posting per creator
(tens of thousands for a large model) and an import millions of works; through
the ORM each row would be an object and a share of a statement.

PostgreSQL gets ``COPY ... FROM STDIN`` (psycopg 3's ``cursor.copy``) for
inserts and one array parameter per chunk for look-ups; SQLite gets
``executemany`` and chunked ``IN`` lists (it has no COPY). Either way no
statement binds one parameter per row of a million-row import, and every
write joins the session's transaction, so a failed import leaves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.types import BigInteger, Integer, String

__all__ = ["among", "insert_rows", "update_rows", "lookup", "reserve_ids", "chunks", "CHUNK_ROWS"]

_Column = ColumnElement[Any] | QueryableAttribute[Any]
SQLITE_CHUNK = 5_000
CHUNK_ROWS = SQLITE_CHUNK
"""Rows per executemany where COPY is not available (bounded memory per statement)."""
POSTGRES_CHUNK = 100_000


def chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(
    db: Session, table: FromClause, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``; returns the count.

    Values go in as the driver adapts them: give exactly what the column
    stores (integers, text, booleans, aware datetimes), since no SQLAlchemy
    default or type decorator runs on this path.
    """
    assert isinstance(table, Table), "rows go into a table"
    columns, rows = _with_python_defaults(table, columns, rows)
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        sql = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
        raw = conn.connection.driver_connection
        dbapi_error = conn.dialect.loaded_dbapi.Error
        count = 0
        try:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
                    count += 1
        except dbapi_error as error:
            # The same exceptions as any statement of the session (IntegrityError for a
            # unique row written meanwhile, OperationalError for a timeout).
            raise DBAPIError.instance(sql, None, error, dbapi_error) from error
        return count
    # Only the named columns, as COPY does: the others take their server defaults
    # (a compiled ORM insert would also name the columns with Python-side defaults).
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})"
    count = 0
    for chunk in chunks(rows, SQLITE_CHUNK):
        conn.exec_driver_sql(sql, [tuple(_sqlite_value(value) for value in row) for row in chunk])
        count += len(chunk)
    return count


def _with_python_defaults(
    table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> tuple[list[str], Iterable[Sequence[Any]]]:
    """Name the columns left out that have only a Python-side default, with that default.

    Neither COPY nor a raw INSERT runs SQLAlchemy's defaults; a column the
    database gives no default of its own would otherwise be written NULL.
    """
    extra = [
        column
        for column in table.columns
        if column.name not in columns
        and column.default is not None
        and column.server_default is None
        and not column.primary_key
    ]
    if not extra:
        return list(columns), rows

    def value(column: Any) -> Any:
        default = column.default
        return default.arg(None) if default.is_callable else default.arg

    def extended() -> Iterator[Sequence[Any]]:
        for row in rows:
            yield (*row, *(value(column) for column in extra))

    return [*columns, *(column.name for column in extra)], extended()


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime stores UTC as text without the zone; match it.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def among(db: Session, column: _Column, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values``: one array parameter (``= ANY``) on PostgreSQL however
    many values; an ``IN`` list on SQLite, so callers there pass at most a chunk."""
    if isinstance(column, QueryableAttribute):
        column = column.expression
    if db.get_bind().dialect.name == "postgresql":
        element = BigInteger() if isinstance(column.type, Integer) else String()
        return column == any_(bindparam(None, list(values), type_=ARRAY(element)))
    return column.in_(list(values))


def lookup(
    db: Session, column: _Column, values: Iterable[Any], *extra: _Column
) -> Iterator[tuple[Any, ...]]:
    """Rows ``(column, *extra)`` of the table whose ``column`` is one of ``values``."""
    wanted = list(values)
    size = POSTGRES_CHUNK if db.get_bind().dialect.name == "postgresql" else SQLITE_CHUNK
    for chunk in chunks(wanted, size):
        yield from db.execute(select(column, *extra).where(among(db, column, chunk)))


def reserve_ids(db: Session, table: FromClause, count: int) -> list[int]:
    """``count`` fresh primary keys of ``table`` for rows written with explicit ids.

    PostgreSQL draws them from the table's sequence (safe beside concurrent
    inserts); SQLite holds the database's write lock for the whole transaction,
    so the ids after the largest one are free.
    """
    assert isinstance(table, Table), "ids of a table"
    if count <= 0:
        return []
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        return list(
            db.scalars(
                text(
                    f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            )
        )
    top = int(db.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")) or 0)
    return list(range(top + 1, top + count + 1))


def update_rows(
    db: Session,
    table: FromClause,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: dict[str, Any] | None = None,
) -> None:
    """Update rows of ``table`` by primary key: ``rows`` are tuples ``(id, *columns)``.

    ``same`` holds values every row takes. PostgreSQL gets one
    ``UPDATE ... FROM unnest(arrays)`` per chunk of :data:`POSTGRES_CHUNK`
    rows (one array parameter per column); SQLite an ``executemany``. Objects
    of ``table`` already in the session are expired, so they read the new values.
    """
    assert isinstance(table, Table), "rows of a table"
    db.flush()  # pending changes first: expiring must not drop them
    for obj in list(db.identity_map.values()):
        if getattr(obj, "__table__", None) is table:
            db.expire(obj)
    key = table.c.id
    same = dict(same or {})
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        names = ["id", *columns]
        for chunk in chunks(rows, POSTGRES_CHUNK):
            arrays = [
                bindparam(f"u_{name}", [row[i] for row in chunk], type_=ARRAY(table.c[name].type))
                for i, name in enumerate(names)
            ]
            values = func.unnest(*arrays).table_valued(*names).render_derived(name="v")
            db.execute(
                update(table)
                .where(key == values.c.id)
                .values({**{name: values.c[name] for name in columns}, **same})
            )
        return
    stmt = (
        update(table)
        .where(key == bindparam("u_id"))
        .values({**{name: bindparam(f"u_{name}") for name in columns}, **same})
    )
    for chunk in chunks(rows, SQLITE_CHUNK):
        db.execute(
            stmt,
            [
                {f"u_{name}": value for name, value in zip(["id", *columns], row, strict=True)}
                for row in chunk
            ],
        )
