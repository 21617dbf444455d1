"""The history's statistics: counts per hour or day, times to acknowledge and to resolve,
the noisiest rules, flapping alerts. Read by GET /api/v1/stats and the page's chart."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from receiver.query_params import BUCKETS, HistoryFilter
from receiver.store.db import Connection
from receiver.store.history import filter_sql


def bucket_counts(
    conn: Connection, f: HistoryFilter, bucket: str, column: str
) -> list[dict[str, Any]]:
    """Alerts matching ``f`` per hour or day and per value of ``column``."""
    if bucket not in BUCKETS or column not in ("severity", "source", "alertname"):
        raise ValueError((bucket, column))
    where, params = filter_sql(f)
    params["bucket"] = bucket
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT date_trunc(%(bucket)s, timestamp AT TIME ZONE 'UTC'), {column}, count(*)
                  FROM alert_history WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
            params,
        )
        return [
            {"bucket": b.replace(tzinfo=UTC).isoformat(), column: v, "count": n}
            for b, v, n in cur.fetchall()
        ]


def _counts_by_column(conn: Connection, f: HistoryFilter, bucket: str) -> dict[str, Any]:
    """``bucket_counts`` by severity, source and alert name, in one pass over the range
    (GROUPING SETS) instead of three."""
    columns = ("severity", "source", "alertname")
    where, params = filter_sql(f)
    params["bucket"] = bucket
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT date_trunc(%(bucket)s, timestamp AT TIME ZONE 'UTC') AS b,
                       severity, source, alertname, count(*),
                       GROUPING(severity), GROUPING(source), GROUPING(alertname)
                  FROM alert_history WHERE {where}
                 GROUP BY GROUPING SETS ((b, severity), (b, source), (b, alertname))
                 ORDER BY 1, 2, 3, 4""",
            params,
        )
        rows = cur.fetchall()
    out: dict[str, list[dict[str, Any]]] = {f"by_{column}": [] for column in columns}
    for b, severity, source, alertname, n, *grouped in rows:
        values = (severity, source, alertname)
        for column, value, absent in zip(columns, values, grouped, strict=True):
            if not absent:
                out[f"by_{column}"].append(
                    {"bucket": b.replace(tzinfo=UTC).isoformat(), column: value, "count": n}
                )
    return out


def stats(conn: Connection, f: HistoryFilter, bucket: str) -> dict[str, Any]:
    """Counts per bucket by severity, source and alert name; times to ack and to resolve;
    the noisiest rules; flapping alerts (fired three or more times in the range)."""
    if bucket not in BUCKETS:
        raise ValueError(bucket)
    out: dict[str, Any] = _counts_by_column(conn, f, bucket)
    where, params = filter_sql(f)
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*),
                       avg(EXTRACT(EPOCH FROM acknowledged_at - starts_at)),
                       percentile_cont(0.9) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM acknowledged_at - starts_at)),
                       count(acknowledged_at),
                       avg(EXTRACT(EPOCH FROM ends_at - starts_at)),
                       percentile_cont(0.9) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM ends_at - starts_at)),
                       count(ends_at)
                  FROM alert_history WHERE {where}""",
            params,
        )
        total, ack_mean, ack_p90, acked, res_mean, res_p90, resolved = cur.fetchone() or (
            0,
            None,
            None,
            0,
            None,
            None,
            0,
        )

        def num(value: Any) -> float | None:
            return None if value is None else round(float(value), 3)

        out["total"] = total
        out["time_to_ack_seconds"] = {"count": acked, "mean": num(ack_mean), "p90": num(ack_p90)}
        out["time_to_resolve_seconds"] = {
            "count": resolved,
            "mean": num(res_mean),
            "p90": num(res_p90),
        }
        cur.execute(
            f"""SELECT alertname, severity, count(*) FROM alert_history WHERE {where}
                 GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""",
            params,
        )
        out["noisiest"] = [
            {"alertname": a, "severity": s, "count": n} for a, s, n in cur.fetchall()
        ]
        # Counted on (alertname, fingerprint) alone, the labels read for the 20 kept only:
        # carrying every row's labels through the grouping spilled its sort to disk (150 ms
        # for a day of 44,000 alerts).
        cur.execute(
            f"""SELECT f.alertname, f.fingerprint,
                       (SELECT min(labels::text) FROM alert_history
                         WHERE {where} AND fingerprint = f.fingerprint
                           AND alertname = f.alertname),
                       f.n, f.resolved
                  FROM (SELECT alertname, fingerprint, count(*) AS n,
                               count(*) FILTER (WHERE status = 'resolved') AS resolved
                          FROM alert_history WHERE {where}
                         GROUP BY 1, 2 HAVING count(*) >= 3
                         ORDER BY 3 DESC, 1 LIMIT 20) f
                 ORDER BY f.n DESC, f.alertname""",
            params,
        )
        out["flapping"] = [
            {
                "alertname": a,
                "fingerprint": fp,
                "labels": json.loads(lbl),
                "occurrences": n,
                "resolved": r,
            }
            for a, fp, lbl, n, r in cur.fetchall()
        ]
    return out
