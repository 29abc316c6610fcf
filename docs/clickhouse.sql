-- hoptrace's tables in ClickHouse: what `hoptrace store init --store URL [--database hoptrace]` creates.
--
-- One row per flow record an agent's flow stage emits (a connection at one capture point, provisional or final; an
-- HTTP exchange; a DNS transaction; an ICMP error) and one `clock` row per second of capture time (the flow stage's
-- clock, which the correlator needs to trace rows exactly as it traces files). Key columns are for selecting and
-- joining; `event` holds the whole record as JSON (its Swift type's Codable form, chosen by `kind`), read back into
-- an equal record. `version` is the row format's (2; 1 had no selection columns): a hoptrace refuses rows of a
-- version it does not know.
--
-- Times are UInt64 nanoseconds since the Unix epoch (ClickHouse 18.16, Debian's, has no DateTime64).
-- Client and server are as seen at the capture point (TCP originator and responder; DNS querier and server; for an
-- ICMP error, the quoted packet's source and destination). ISNs are 0 when unknown (no SYN or SYN-ACK seen).

CREATE DATABASE IF NOT EXISTS hoptrace;

CREATE TABLE IF NOT EXISTS hoptrace.flows
(
    version UInt8,          -- row format version (1)
    node String,            -- the node (agent --node, $NODE_NAME, or the host name)
    run UInt64,             -- the agent run (its start, ns): record ids are unique within a run
    seq UInt64,             -- the row's position in its run's output
    emitted UInt64,         -- capture time the run had reached when the record was emitted (ns)
    point String,           -- interface (eth0, cni0, vethXXXX; if7 when the index has no name)
    if_index Int32,         -- SLL2 interface index, -1 for a named interface
    kind String,            -- opened, connection, http, dns, icmp, clock
    time UInt64,            -- the record's time: connection start, request's first byte, query, ICMP arrival (ns)
    client String,
    client_port UInt16,
    server String,
    server_port UInt16,
    client_isn UInt32,      -- the stitching key across capture points, NAT and nodes (NAT never rewrites it)
    server_isn UInt32,
    event String,           -- the record, JSON
    -- Selection columns (row format 2), copied from the record so that SQL selects without reading `event`;
    -- empty, 0 or -1 where they do not apply and in rows of format 1.
    method String,          -- http: the request's method
    target String,          -- http: the request's target
    host String,            -- http: the Host header; dns: the question's name
    request_id String,      -- http: X-Request-ID
    status UInt16,          -- http: the response's status, 0 when none
    rcode String,           -- dns: NOERROR, NXDOMAIN, ... ('' when no response)
    latency Int64 DEFAULT -1 -- http, dns: the record's latency (ns), -1 when not measured
)
ENGINE = MergeTree
PARTITION BY toDate(intDiv(emitted, 1000000000))
-- Ordered for the stitching join: every sighting of one connection on every node shares the client ISN (a reply
-- caught half-translated, the server ISN), so they sit together on disk.
ORDER BY (client_isn, server_isn, time);
-- ClickHouse 19.6 and later: rows expire after the retention (store init --keep-days, default 7):
--   TTL toDate(intDiv(emitted, 1000000000)) + INTERVAL 7 DAY
-- On 18.16 there is no TTL: drop whole days, e.g.
--   ALTER TABLE hoptrace.flows DROP PARTITION '2026-11-23';

-- The agents' own counters: one row every --stats-interval while an agent runs (periodic = 1; the interval is of
-- capture time for an -r replay, of the wall clock live) and one at the end of each run (periodic = 0). Counts are
-- since the run started (they never decrease within a run); spool_bytes and queue_rows are what is held then.
CREATE TABLE IF NOT EXISTS hoptrace.agent_stats
(
    time UInt64,            -- when the row was taken (wall clock)
    node String,
    run UInt64,
    packets UInt64,         -- packets read
    rows_made UInt64,
    rows_sent UInt64,
    rows_dropped UInt64,    -- rows neither the queue nor the spool had room for while the store was away
    spool_bytes UInt64,     -- in the spool (at the end: left for the next run, which sends it first)
    periodic UInt8 DEFAULT 0, -- 1: a periodic row; 0: the run's end
    capture_time UInt64,    -- the newest packet's time
    kernel_drops UInt64,    -- packets libpcap reports the kernel dropped (live capture)
    queue_rows UInt64       -- rows waiting in memory (the queue and the batch being built)
)
ENGINE = MergeTree
PARTITION BY toDate(intDiv(time, 1000000000))
ORDER BY (node, time);

-- A table made by a hoptrace before row format 2 gets the selection columns from `hoptrace store init` (18.16 has
-- no ADD COLUMN IF NOT EXISTS: it reads system.columns and adds the missing ones):
--   ALTER TABLE hoptrace.flows ADD COLUMN method String      (and target, host, request_id, status, rcode, latency)
-- and an agent_stats table of before the periodic rows its four columns:
--   ALTER TABLE hoptrace.agent_stats ADD COLUMN periodic UInt8 DEFAULT 0  (and capture_time, kernel_drops, queue_rows)
-- (until then an agent's rows go in with the columns the table has: input_format_skip_unknown_fields=1).

-- Queries hoptrace makes (JSONEachRow, output_format_json_quote_64bit_integers=0); rows travel in the HTTP body,
-- never pasted into SQL. ClickHouse 18.16 has no query parameters: a user's selector text is a string literal made
-- by one function (ClickHouseStore.literal: \ ' \n \r \t NUL escaped; tested with hostile strings), addresses are
-- parsed first, everything else is a number or a column name of hoptrace's own.
--   INSERT INTO hoptrace.flows FORMAT JSONEachRow            (the agent, a batch of up to 10k rows or 1 s)
--   SELECT <every column> FROM hoptrace.flows WHERE emitted >= <ns> FORMAT JSONEachRow
--                                                            (the whole window: trace --store with no selector,
--                                                            --index, --all, --list)
--
-- requests --store (RequestSelection.swift): the HTTP and DNS rows its filters may keep, in one query (after the
-- format-1 count above; rows of format 1 mean the whole window), a superset the filters then judge in Swift:
--   ... WHERE <window> AND kind IN ('http', 'dns') [AND (client_port = <p> OR server_port = <p>)]       (--port)
--       [AND kind = 'http' AND status = 404 | status BETWEEN 500 AND 599 | kind = 'dns' AND rcode = 'NXDOMAIN']
--       [AND latency > <ns>]                                                                   (--slower-than)
--       [AND (client = '<ip>' OR server = '<ip>' OR (kind = 'dns' AND position(event, '"<ip>"') > 0))]
--       [AND (position(lower(host), '<name>') > 0 OR lengthUTF8(host) != length(host))]   (--host, an ASCII name)
--
-- flows --store (FlowSelection.swift): the connection and ICMP rows its filters may keep, in one query, a superset the
-- filters then judge in Swift (its columns are all of format 1 too; the JSON's top-level keys by visitParamExtract*):
--   ... WHERE <window> AND kind IN ('connection', 'icmp') [AND kind = 'connection']  (--status, --slower-than)
--       [AND (client_port = <p> OR server_port = <p>)]                                                (--port)
--       [AND visitParamExtractString(event, 'state') = 'SF']                                        (--status)
--       [AND (<start> < 0 OR <end> < <start> OR <end> - <start> > <ns>)]                       (--slower-than,
--                                           <start>, <end>: visitParamExtractInt(event, 'startTime' | 'endTime'))
--       [AND (client = '<ip>' OR server = '<ip>' OR (kind = 'icmp' AND visitParamExtractString(event, 'sender') =
--       '<ip>'))]                                                                     (--host, an address; a name: 0)
--
-- trace --store with a selector (RowSelection.swift). <window> is `emitted >= <since ns>`; every query selects every
-- column. 1. The candidates, one selector (the most selective given), at most 10,000 (else the whole window):
--   ... WHERE <window> AND kind = 'http' AND request_id = '<id>'                       (--request-id)
--   ... WHERE <window> AND kind = 'http' AND upper(method) = 'GET' AND startsWith(target, '/api')   (--http)
--   ... WHERE <window> AND kind IN ('opened','connection','http','dns') AND client = '<ip>' [AND client_port = <p>]
--   ... WHERE <window> AND kind IN ('opened','connection','http','dns') AND server = '<ip>' AND server_port = <p>
-- (first: SELECT count() ... WHERE <window> AND version < 2 -- rows of format 1 cannot be selected: whole window)
-- 2. Repeated (at most 4 rounds) for what the previous answers brought that was not asked for yet:
--   every node's sightings, on the primary key's prefix:
--   ... AND kind IN ('opened','connection','http','icmp') AND client_isn IN (<isns>)
--   ... AND kind IN (...) AND client_isn = 0 AND server_isn IN (<isns>)      (replies caught half translated)
--   ... AND kind IN (...) AND server_isn IN (<isns>)           (only for sightings without a client ISN: a scan)
--   ... AND kind IN (...) AND client_isn = 0 AND server_isn = 0 AND time BETWEEN <t-1s> AND <t+1s>   (mid-stream)
--   an L7 proxy's onward exchange (the same method and target, or request id, within its 30 s join window):
--   ... AND kind = 'http' AND time BETWEEN <first-30s> AND <last+30s> AND (method, target) IN (('GET','/x'), ...)
--   ... AND kind = 'http' AND time BETWEEN <first-30s> AND <last+30s> AND request_id IN ('<id>', ...)
--   the clients' lookups, the lookups whose answers name a server (how its name is learned), and the connections a
--   client made right after its lookups (any may claim one):
--   ... AND kind = 'dns' AND time BETWEEN <first-30s> AND <last+7.5s> AND client IN ('<ip>', ...)
--   ... AND kind = 'dns' AND time BETWEEN <first-10min> AND <last> AND (position(event, '"<ip>"') > 0 OR ...)
--   ... AND kind IN ('opened','connection','http') AND time BETWEEN <first lookup> AND <last lookup+30s>
--       AND client IN ('<ip>', ...)
-- 3. Context: ICMP errors (those quoting a data packet carry no ISN) and the flow stage's clock, every node's:
--   ... AND kind = 'icmp' AND time BETWEEN <first-60s> AND <last emitted+60s>
--   ... AND kind = 'clock' AND time BETWEEN <first-60s> AND <last emitted+147.5s>  (the open-connection timeout,
--                                                                                  the lookup settle, reordering)
-- 4. The nodes' clock (path-order.md, "Clock offsets between nodes"): every connection seen on two nodes or more up
--    to the clock's end, so that the offset is estimated from the files' samples (nothing in a window of one node):
--   ... AND kind IN ('connection','http') AND emitted <= <last emitted+147.5s> AND (client_isn IN (SELECT client_isn
--       FROM hoptrace.flows WHERE <window> AND emitted <= <same> AND kind IN ('opened','connection')
--       AND client_isn != 0 GROUP BY client_isn HAVING uniqExact(node) > 1) OR server_isn IN (<the same by server_isn>))
-- The server still scans the window's key columns for step 1 and the dns/icmp/clock queries (a column store reads
-- only the columns named); `event` is read and sent only for the rows returned.
--
-- A sharded cluster: create the tables above on every shard (as hoptrace.flows_local, ON CLUSTER <name>), and a
-- Distributed table over them for the agents to insert into and hoptrace to read from:
--   CREATE TABLE hoptrace.flows ON CLUSTER fleet AS hoptrace.flows_local
--   ENGINE = Distributed(fleet, hoptrace, flows_local, cityHash64(client_isn));
-- Sharding by the client ISN keeps every node's sightings of one connection on one shard, so a join by ISN stays
-- local to it. (hoptrace store init creates the single-server form; on a cluster, run the statements above.)
