"""The per-destination rate budget, shared by every dispatcher through PostgreSQL."""

from __future__ import annotations

from receiver.store.db import Connection


def reserve_send(
    conn: Connection, target: str, *, allowed: int, window_seconds: float
) -> tuple[int | None, float]:
    """Take one slot of ``target``'s budget if fewer than ``allowed`` sends are in the window.

    Serialised per target with an advisory lock, so several dispatchers share one budget.
    Returns (slot id, 0) when granted, else (None, seconds until the oldest send leaves the
    window).
    """
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"d76-send:{target}",))
        cur.execute(
            """SELECT count(*),
                      EXTRACT(EPOCH FROM MIN(sent_at) + make_interval(secs => %(w)s) - d76_now())
                 FROM channel_send
                WHERE target = %(t)s AND sent_at > d76_now() - make_interval(secs => %(w)s)""",
            {"t": target, "w": window_seconds},
        )
        used, frees_in = cur.fetchone() or (0, None)
        if used >= allowed:
            return None, max(0.05, float(frees_in or window_seconds))
        cur.execute("INSERT INTO channel_send (target) VALUES (%s) RETURNING id", (target,))
        (slot,) = cur.fetchone() or (None,)
        cur.execute(
            "DELETE FROM channel_send "
            "WHERE target = %s AND sent_at < d76_now() - interval '1 hour'",
            (target,),
        )
    return slot, 0.0


def release_send(conn: Connection, slot: int) -> None:
    """Give back a slot whose message was not delivered."""
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM channel_send WHERE id = %s", (slot,))
