-- hoptrace's tables in ClickHouse: what `hoptrace store init --store URL [--database hoptrace]` creates.
--
-- One row per flow record an agent's flow stage emits (a connection at one capture point, provisional or final; an
-- HTTP exchange; a DNS transaction; an ICMP error) and one `clock` row per second of capture time (the flow stage's
-- clock, which the correlator needs to trace rows exactly as it traces files). Key columns are for selecting and
-- joining; `event` holds the whole record as JSON (its Swift type's Codable form, chosen by `kind`), read back into
-- an equal record. `version` is the row format's (1): a hoptrace refuses rows of a version it does not know.
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
    event String            -- the record, JSON
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

-- The agents' own counters, one row at the end of each run.
CREATE TABLE IF NOT EXISTS hoptrace.agent_stats
(
    time UInt64,
    node String,
    run UInt64,
    packets UInt64,
    rows_made UInt64,
    rows_sent UInt64,
    rows_dropped UInt64,    -- rows neither the queue nor the spool had room for while the store was away
    spool_bytes UInt64      -- left in the spool at the end (sent first by the next run)
)
ENGINE = MergeTree
PARTITION BY toDate(intDiv(time, 1000000000))
ORDER BY (node, time);

-- Queries hoptrace makes (JSONEachRow, output_format_json_quote_64bit_integers=0); rows travel in the HTTP body,
-- never pasted into SQL:
--   INSERT INTO hoptrace.flows FORMAT JSONEachRow            (the agent, a batch of up to 10k rows or 1 s)
--   SELECT version, node, ..., event FROM hoptrace.flows WHERE emitted >= <ns> FORMAT JSONEachRow
--                                                            (trace --store --since)
--
-- A sharded cluster: create the tables above on every shard (as hoptrace.flows_local, ON CLUSTER <name>), and a
-- Distributed table over them for the agents to insert into and hoptrace to read from:
--   CREATE TABLE hoptrace.flows ON CLUSTER fleet AS hoptrace.flows_local
--   ENGINE = Distributed(fleet, hoptrace, flows_local, cityHash64(client_isn));
-- Sharding by the client ISN keeps every node's sightings of one connection on one shard, so a join by ISN stays
-- local to it. (hoptrace store init creates the single-server form; on a cluster, run the statements above.)
