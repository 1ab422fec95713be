#include "app/demo_views.h"

namespace sluice::app {

std::span<const std::string_view> DemoSqlStatements() {
  // events_per_minute, the sixth dashboard view, is part of the embedded default (catalog.cc).
  static constexpr std::string_view kStatements[] = {
      // Closed minutes only (emit on_close, 5 s after the minute at the stream's watermark
      // delay): the exception rate's chart and the anomaly alert judge complete windows. The
      // live count of exceptions is in events_per_minute.
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS exceptions_per_minute
    WITH (emit = 'on_close', retention = '30 days') AS
  SELECT warehouse_id, window_start,
         count(*) FILTER (WHERE event_type = 'fulfilment.exception') AS exceptions,
         count(*) AS events,
         count(*) FILTER (WHERE event_type = 'fulfilment.exception') * 1.0 / count(*)
           AS exception_rate
  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)
  GROUP BY warehouse_id, window_start)sql",
      R"sql(
CREATE ALERT IF NOT EXISTS exception_spike ON exceptions_per_minute
  WITH (metric = exceptions, sigmas = 3, alpha = 0.2, warmup = 10, min_delta = 2))sql",
      // The alerts, pushed to the dashboard like any view (the `alerts` stream exists once the
      // first alert is defined). One row per alert: they are rare, and the stream's retention
      // keeps a week of them for a rebuild.
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS recent_alerts AS
  SELECT alert, warehouse_id, window_start, max(value) AS exceptions,
         max(baseline) AS baseline, max(threshold) AS threshold
  FROM alerts GROUP BY alert, warehouse_id, window_start)sql",
      // The dashboard's exception feed: one row per exception event (its event_id is part of
      // the key), kept for an hour so that a subscriber's snapshot stays small.
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS recent_exceptions WITH (retention = '1 hour') AS
  SELECT event_id, warehouse_id, order_id, exception_code, severity, window_start,
         min(occurred_at) AS occurred_at
  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '10' MINUTE)
  WHERE event_type = 'fulfilment.exception'
  GROUP BY event_id, warehouse_id, order_id, exception_code, severity, window_start)sql",
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS financial_totals WITH (retention = '2 years') AS
  SELECT currency, event_type, window_start, count(*) AS events,
         sum(amount_minor) AS amount_minor
  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' HOUR)
  WHERE event_type IN ('payment.captured', 'refund.issued', 'carrier.charge')
  GROUP BY currency, event_type, window_start)sql",
      // An order's lifecycle: its events while no gap exceeds 2 hours. The day's retention
      // bounds the state: about 1 KB per open order (docs/PERFORMANCE.md).
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS order_sessions WITH (retention = '1 day') AS
  SELECT order_id, window_start, window_end, count(*) AS events,
         first_value(warehouse_id) AS warehouse_id,
         first_value(event_type) AS first_event, last_value(event_type) AS last_event,
         count(*) FILTER (WHERE event_type = 'fulfilment.exception') AS exceptions
  FROM SESSION(fulfilment, occurred_at, INTERVAL '2' HOUR)
  GROUP BY order_id, window_start, window_end)sql",
      // Pick durations: each pick.started with the pick.completed of the same order within 2
      // hours (an interval join of the stream with itself), per warehouse and 5 minutes of
      // pick start.
      R"sql(
CREATE MATERIALIZED VIEW IF NOT EXISTS pick_durations WITH (retention = '30 days') AS
  SELECT s.warehouse_id, window_start, count(*) AS picks,
         avg(extract(epoch FROM c.occurred_at - s.occurred_at)) AS avg_seconds,
         approx_percentile(extract(epoch FROM c.occurred_at - s.occurred_at), 0.5) AS p50_seconds,
         approx_percentile(extract(epoch FROM c.occurred_at - s.occurred_at), 0.9) AS p90_seconds,
         approx_percentile(extract(epoch FROM c.occurred_at - s.occurred_at), 0.99) AS p99_seconds
  FROM TUMBLE(fulfilment, occurred_at, INTERVAL '5' MINUTE) AS s
  JOIN fulfilment AS c
    ON s.order_id = c.order_id
   AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '2' HOUR
  WHERE s.event_type = 'pick.started' AND c.event_type = 'pick.completed'
  GROUP BY s.warehouse_id, window_start)sql",
  };
  return kStatements;
}

}  // namespace sluice::app
