"""The run store: every command that produces results records its run here.

SQLAlchemy Core, so the same tables serve SQLite (default, one file) and PostgreSQL
(``--db postgresql://…``). The canonical JSON document of a run is stored whole; scan results
and findings also get a row each so that a killed scan can resume and reports can query.

Default location: ``$EXAUDIT_DB`` if set, else ``$XDG_DATA_HOME/exaudit/exaudit.db``
(``~/.local/share/exaudit/exaudit.db``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from exaudit.model import RunInfo, ScanResult, iso, to_jsonable, utc_now

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("finished", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("document", sa.Text),
)

scan_results = sa.Table(
    "scan_results",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("worst", sa.String(24)),
    sa.Column("document", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "target"),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("finding_id", sa.String(32), nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("first_seen", sa.String(32)),
    sa.Column("document", sa.Text, nullable=False),
)


class StoreError(Exception):
    """The store cannot be opened or read; the message says why."""


def default_db_path() -> Path:
    env = os.environ.get("EXAUDIT_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "exaudit" / "exaudit.db"


def db_url(db: str | os.PathLike[str] | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as is, anything else a SQLite file path."""
    if db is None:
        db = default_db_path()
    text = str(db)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store:
    def __init__(self, db: str | os.PathLike[str] | None = None) -> None:
        self.url = db_url(db)
        try:
            self.engine = sa.create_engine(self.url, future=True)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open store {self.url}: {exc}") from exc

    # ------------------------------------------------------------------ runs

    def begin_run(self, command: str, args: list[str] | None = None) -> RunInfo:
        from exaudit import __version__

        info = RunInfo(id=str(uuid.uuid4()), command=command, started=iso(utc_now()) or "", args=list(args or []), version=__version__)
        with self.engine.begin() as conn:
            conn.execute(
                runs.insert().values(id=info.id, command=command, started=info.started, status="running", args=json.dumps(info.args))
            )
        return info

    def finish_run(self, run: RunInfo, document: dict[str, Any], summary: dict[str, Any] | None = None, status: str = "done") -> None:
        run.finished = iso(utc_now())
        document = dict(document)
        document["run"] = to_jsonable(run)
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run.id)
                .values(finished=run.finished, status=status, summary=json.dumps(summary or {}), document=json.dumps(document))
            )
            rows = [
                {
                    "run_id": run.id,
                    "finding_id": f.get("id", ""),
                    "host": f.get("host", ""),
                    "rule": f.get("rule", ""),
                    "severity": f.get("severity", ""),
                    "first_seen": f.get("first_seen"),
                    "document": json.dumps(f),
                }
                for f in document.get("findings", [])
            ]
            if rows:
                conn.execute(findings.insert(), rows)

    def add_scan_result(self, run: RunInfo, result: ScanResult) -> None:
        """Record one target as soon as it is done, so a killed scan can resume."""
        with self.engine.begin() as conn:
            conn.execute(scan_results.insert().values(**_scan_row(run.id, result)))

    def add_scan_results(self, run: RunInfo, results: Iterable[ScanResult]) -> int:
        """Record a batch of targets in one transaction; returns how many rows were stored.

        A target already stored for this run (the same address:port reached through overlapping targets, or a
        resumed run) makes the batch fall back to row by row, skipping the duplicates.
        """
        rows = [_scan_row(run.id, result) for result in results]
        if not rows:
            return 0
        try:
            with self.engine.begin() as conn:
                conn.execute(scan_results.insert(), rows)
            return len(rows)
        except sa.exc.IntegrityError:
            pass
        stored = 0
        for row in rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(scan_results.insert(), [row])
                stored += 1
            except sa.exc.IntegrityError:
                continue  # already there
        return stored

    def scan_results_of(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scan_results.c.document).where(scan_results.c.run_id == run_id)).all()
        return [json.loads(r.document) for r in rows]

    def find_run(self, run_id: str, command: str | None = None) -> dict[str, Any]:
        """Any run (running, failed or done) by id or unique id prefix; ``StoreError`` if unknown or ambiguous."""
        query = sa.select(runs.c.id, runs.c.command, runs.c.started, runs.c.status, runs.c.args).where(runs.c.id.like(f"{run_id}%"))
        if command:
            query = query.where(runs.c.command == command)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(2)).all()
        if not rows or not run_id:
            raise StoreError(f"no {command or ''} run {run_id!r} in {self.url}".replace("  ", " "))
        if len(rows) > 1:
            raise StoreError(f"run id prefix {run_id!r} is ambiguous")
        row = rows[0]
        return {"id": row.id, "command": row.command, "started": row.started, "status": row.status, "args": json.loads(row.args)}

    def runs_unfinished(self, command: str | None = None) -> list[dict[str, Any]]:
        """Runs still marked running (killed, or in progress elsewhere) or failed (interrupted), newest first."""
        return [r for r in self.list_runs(limit=1000, command=command) if r["status"] != "done"]

    def reopen_run(self, run_id: str) -> RunInfo:
        """Mark an unfinished run running again (``--resume``); its results so far stay, new ones join them."""
        from exaudit import __version__

        found = self.find_run(run_id)
        if found["status"] == "done":
            raise StoreError(f"run {found['id']} is finished; only a running or interrupted run can be resumed")
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == found["id"]).values(status="running", finished=None))
        return RunInfo(id=found["id"], command=found["command"], started=found["started"], args=found["args"], version=__version__)

    def list_runs(self, limit: int = 20, command: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(runs.c.id, runs.c.command, runs.c.started, runs.c.finished, runs.c.status, runs.c.args, runs.c.summary)
        if command:
            query = query.where(runs.c.command == command)
        query = query.order_by(runs.c.started.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "command": r.command,
                "started": r.started,
                "finished": r.finished,
                "status": r.status,
                "args": json.loads(r.args),
                "summary": json.loads(r.summary) if r.summary else {},
            }
            for r in rows
        ]

    def load_run(self, run_id: str | None = None, command: str | None = None) -> dict[str, Any]:
        """The stored document of a run: by id (a unique prefix is enough) or the latest finished one."""
        query = sa.select(runs.c.id, runs.c.document).where(runs.c.status == "done")
        if run_id:
            query = query.where(runs.c.id.like(f"{run_id}%"))
        if command:
            query = query.where(runs.c.command == command)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(runs.c.started.desc()).limit(2)).all()
        if not rows:
            raise StoreError(f"no finished run {run_id or ''} in {self.url}".replace("  ", " "))
        if run_id and len(rows) > 1:
            raise StoreError(f"run id prefix {run_id!r} is ambiguous")
        return dict(json.loads(rows[0].document))


def _scan_row(run_id: str, result: ScanResult) -> dict[str, Any]:
    worst = result.worst.value if result.worst else None
    return {"run_id": run_id, "target": result.target, "worst": worst, "document": json.dumps(to_jsonable(result))}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets a reader (exaudit runs) work while a scan writes, and survives a SIGKILL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
