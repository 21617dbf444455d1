-- wrk script: POST Alertmanager webhook payloads of PER_REQUEST alerts, every alert a new
-- occurrence (a fingerprint unique per wrk thread and request), so each request stores rows.
-- bench.ingest puts a new seed below for every run: wrk's Lua does not seed math.random, so
-- without it every run would post the fingerprints of the one before, and store nothing new.
math.randomseed(RUN_SEED)
local n = 0
local per_request = PER_REQUEST

local function alert(i)
  return string.format(
    '{"status":"firing","labels":{"alertname":"RouteScoreLow","severity":"P2",' ..
    '"source":"ArbRoute","route":"R%d"},"annotations":{"summary":"Route Score Low",' ..
    '"description":"Score: 42"},"startsAt":"2026-11-24T03:00:00Z",' ..
    '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"%08x%08x"}',
    i % 50, id, i)
end

function setup(thread)
  thread:set("id", math.random(1, 2147483647))
end

function request()
  local alerts = {}
  for k = 1, per_request do
    n = n + 1
    alerts[k] = alert(n)
  end
  local body = '{"version":"4","groupKey":"g","truncatedAlerts":0,"status":"firing",' ..
    '"receiver":"d76-p2","groupLabels":{},"commonLabels":{},"commonAnnotations":{},' ..
    '"externalURL":"http://127.0.0.1:9093","alerts":[' .. table.concat(alerts, ",") .. ']}'
  return wrk.format("POST", "/webhook", {["Content-Type"] = "application/json"}, body)
end
