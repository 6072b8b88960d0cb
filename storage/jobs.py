"""The persistent retry table (`retry_jobs`): the outbox the worker drains."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

import aiosqlite

from storage.connection import Repository
from storage.models import Job, JobStatus
from storage.posts import iso, utc_now


def _job(row: aiosqlite.Row) -> Job:
    values = dict(row)
    values["payload"] = json.loads(values["payload"] or "{}")
    return Job.model_validate(values)


class JobRepository(Repository):
    """SQL for `retry_jobs`."""

    async def enqueue(
        self,
        kind: str,
        post_id: str | None,
        *,
        run_at: float,
        payload: dict[str, Any] | None = None,
        coalesce: bool = False,
    ) -> int | None:
        """Queue a job due at `run_at` (epoch seconds); returns its id.

        With `coalesce`, a job of the same kind already queued for the post absorbs this one
        (it reads the post when it runs), and None is returned.
        """
        now = utc_now()
        sql = (
            "INSERT INTO retry_jobs (kind, post_id, payload, next_attempt_at, status,"
            " created_at, updated_at) SELECT ?, ?, ?, ?, 'queued', ?, ?"
        )
        params: list[Any] = [kind, post_id, json.dumps(payload or {}), run_at, now, now]
        if coalesce:
            sql += (
                " WHERE NOT EXISTS (SELECT 1 FROM retry_jobs WHERE post_id IS ? AND kind = ?"
                " AND status = 'queued')"
            )
            params += [post_id, kind]
        async with self._db.execute(sql + " RETURNING id", params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def claim_due(
        self,
        now: float,
        lease: float,
        limit: int,
        *,
        exclude: Collection[int] = (),
        after_first_try: tuple[str, str] | None = None,
    ) -> list[Job]:
        """Lease up to `limit` due jobs: queued and due, or running with an expired lease.

        A job waits while another job of the same kind for the same post is running, so card
        updates and publishes of one post never overlap; `exclude` names jobs this process is
        still running whatever their lease says. With `after_first_try=(kind, before)`, a job
        of `kind` also waits for the first try of an older job of kind `before` for its post
        (the card shows "Publishing..." before the publish), but never for that job's retries.
        Call inside a transaction.
        """
        excluded = list(exclude)
        waiting_kind, before_kind = after_first_try or ("", "")
        async with self._db.execute(
            """
            UPDATE retry_jobs
            SET status = 'running', attempts = attempts + 1, lease = ?, updated_at = ?
            WHERE id IN (
                SELECT j.id FROM retry_jobs j
                WHERE (
                    (j.status = 'queued' AND j.next_attempt_at <= ?)
                    OR (j.status = 'running' AND j.lease < ?)
                )
                AND j.id NOT IN (SELECT value FROM json_each(?))
                AND NOT EXISTS (
                    SELECT 1 FROM retry_jobs r
                    WHERE r.status = 'running' AND r.lease >= ? AND r.id != j.id
                      AND r.post_id IS j.post_id AND r.kind = j.kind
                )
                AND NOT (j.kind = ? AND EXISTS (
                    SELECT 1 FROM retry_jobs b
                    WHERE b.post_id IS j.post_id AND b.kind = ? AND b.id < j.id
                      AND (b.status = 'running' OR (b.status = 'queued' AND b.attempts = 0))
                ))
                ORDER BY j.next_attempt_at, j.id
                LIMIT ?
            )
            RETURNING *
            """,
            (
                lease,
                utc_now(),
                now,
                now,
                json.dumps(excluded),
                now,
                waiting_kind,
                before_kind,
                limit,
            ),
        ) as cursor:
            rows = await cursor.fetchall()
        jobs = [_job(row) for row in rows]
        # Two due jobs of one kind for one post can't both run: keep the oldest.
        kept: dict[tuple[str | None, str], Job] = {}
        for job in sorted(jobs, key=lambda job: job.id):
            kept.setdefault((job.post_id, job.kind), job)
        for job in jobs:
            if kept[(job.post_id, job.kind)] is not job:
                await self.reschedule(job.id, run_at=now, error=None, count_attempt=False)
        return sorted(kept.values(), key=lambda job: job.id)

    async def renew_leases(self, job_ids: list[int], lease: float) -> None:
        """Extend the lease of jobs still running."""
        if job_ids:
            await self._run(
                f"UPDATE retry_jobs SET lease = ? WHERE status = 'running'"
                f" AND id IN ({', '.join('?' for _ in job_ids)})",
                (lease, *job_ids),
            )

    async def complete(self, job_id: int) -> None:
        """The job did its work."""
        await self._run(
            "UPDATE retry_jobs SET status = 'done', lease = NULL, last_error = NULL,"
            " updated_at = ? WHERE id = ?",
            (utc_now(), job_id),
        )

    async def reschedule(
        self, job_id: int, *, run_at: float, error: str | None, count_attempt: bool = True
    ) -> None:
        """Queue the job again for `run_at` (a transient failure, or a wait)."""
        await self._run(
            "UPDATE retry_jobs SET status = 'queued', next_attempt_at = ?, lease = NULL,"
            " last_error = COALESCE(?, last_error), attempts = attempts - ?, updated_at = ?"
            " WHERE id = ?",
            (run_at, error, 0 if count_attempt else 1, utc_now(), job_id),
        )

    async def bury(self, job_id: int, *, queue: str, error: str) -> None:
        """The job failed for good: move it to the dead-letter `queue`."""
        await self._run(
            "UPDATE retry_jobs SET status = 'dead', queue = ?, last_error = ?, lease = NULL,"
            " updated_at = ? WHERE id = ?",
            (queue, error, utc_now(), job_id),
        )

    async def revive(self, job_id: int, *, run_at: float) -> bool:
        """Take a dead job out of its dead-letter queue and run it again from scratch."""
        async with self._db.execute(
            "UPDATE retry_jobs SET status = 'queued', queue = NULL, attempts = 0,"
            " next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'dead' RETURNING id",
            (run_at, utc_now(), job_id),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def requeue_running(self, now: float) -> int:
        """At start-up: every job an earlier process left running is due again at once.

        Only for the process holding the database's process lock: the one that leased these
        jobs is then known to be dead, so their leases, live or not, mean nothing.
        """
        async with self._db.execute(
            "UPDATE retry_jobs SET status = 'queued', next_attempt_at = ?, lease = NULL,"
            " updated_at = ? WHERE status = 'running' RETURNING id",
            (now, utc_now()),
        ) as cursor:
            return len(list(await cursor.fetchall()))

    async def get(self, job_id: int) -> Job | None:
        """The job with this id."""
        async with self._db.execute("SELECT * FROM retry_jobs WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _job(row)

    async def for_post(self, post_id: str) -> list[Job]:
        """Every job of a post, oldest first."""
        async with self._db.execute(
            "SELECT * FROM retry_jobs WHERE post_id = ? ORDER BY id", (post_id,)
        ) as cursor:
            return [_job(row) for row in await cursor.fetchall()]

    async def with_status(self, status: JobStatus, *, limit: int = 50) -> list[Job]:
        """Jobs in `status`, newest first."""
        async with self._db.execute(
            "SELECT * FROM retry_jobs WHERE status = ? ORDER BY id DESC LIMIT ?",
            (status.value, limit),
        ) as cursor:
            return [_job(row) for row in await cursor.fetchall()]

    async def count(self, status: JobStatus, *, except_posts: Collection[str] = ()) -> int:
        """How many jobs are in `status`, leaving out the jobs of the posts `except_posts`."""
        sql = "SELECT COUNT(*) FROM retry_jobs WHERE status = ?"
        skipped = list(except_posts)
        if skipped:
            marks = ", ".join("?" for _ in skipped)
            sql += f" AND (post_id IS NULL OR post_id NOT IN ({marks}))"
        async with self._db.execute(sql, (status.value, *skipped)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def next_due_at(self, *, after: float | None = None) -> float | None:
        """When the next queued job is due, or when the next lease expires (only times later
        than `after`, if given)."""
        since = float("-inf") if after is None else after
        async with self._db.execute(
            "SELECT MIN(t) FROM ("
            " SELECT MIN(next_attempt_at) AS t FROM retry_jobs"
            " WHERE status = 'queued' AND next_attempt_at > ?"
            " UNION ALL"
            " SELECT MIN(lease) FROM retry_jobs WHERE status = 'running' AND lease > ?)",
            (since, since),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def prune_done(self, before: datetime) -> int:
        """Forget finished jobs last touched before `before`."""
        async with self._db.execute(
            "DELETE FROM retry_jobs WHERE status = 'done' AND updated_at < ? RETURNING id",
            (iso(before),),
        ) as cursor:
            return len(list(await cursor.fetchall()))
