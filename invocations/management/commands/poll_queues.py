"""Drain the watched queues into execution records: once (`--once`), or in a loop for
installations without Celery beat."""

import contextlib
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from invocations.ingest import polling
from invocations.shared.wording import count


class Command(BaseCommand):
    help = (
        "Poll every enabled watched queue: store its messages as execution records, then delete "
        "them. With --once, drain each queue until it is empty and exit; without it, poll every "
        "POLL_INTERVAL_SECONDS until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="drain every queue once, print, and exit"
        )
        parser.add_argument(
            "--budget",
            type=float,
            default=None,
            help="seconds one queue may be drained before moving on (default: no limit with "
            "--once, POLL_TIME_BUDGET_SECONDS otherwise)",
        )
        parser.add_argument(
            "--wait",
            type=int,
            default=polling.RECEIVE_WAIT_SECONDS,
            choices=range(0, 21),
            metavar="0-20",
            help="seconds ReceiveMessage waits on an empty queue (default %(default)s)",
        )

    def handle(self, *args, once=False, budget=None, wait=1, **options):
        if once:
            outcome = polling.poll_all(budget_seconds=budget or 0, wait_seconds=wait)
            self._report(outcome)
            if outcome.failed:
                raise CommandError(
                    f"{len(outcome.failed)} of {count(len(outcome.polled), 'queue')} failed; "
                    "see above"
                )
            return
        try:
            while True:
                started = time.monotonic()
                try:
                    outcome = polling.poll_all(budget_seconds=budget, wait_seconds=wait)
                except DatabaseError as exc:
                    # PostgreSQL restarting, or this host cut off from it: nothing was deleted
                    # from a queue without being stored, so the next round simply tries again.
                    self.stderr.write(f"the database did not answer ({exc}); trying again")
                    with contextlib.suppress(DatabaseError):
                        connection.close()
                else:
                    if outcome.stored or outcome.failed:
                        self._report(outcome)
                time.sleep(max(0.0, settings.POLL_INTERVAL_SECONDS - (time.monotonic() - started)))
        except KeyboardInterrupt:
            self.stdout.write("stopped")

    def _report(self, outcome):
        for result in outcome.failed:
            self.stderr.write(f"{result.queue_name}: {result.error}")
        self.stdout.write(
            f"stored {count(outcome.stored, 'record')} from {count(len(outcome.polled), 'queue')}"
        )
