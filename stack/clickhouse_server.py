#!/usr/bin/env python3
"""Serve the real ClickHouse HTTP interface from the chdb-core wheel.

chdb's public API never opens listeners, but its low-level binding runs the whole
clickhouse-local, which honours `SYSTEM START LISTEN HTTP`. The listener lives only as
long as the query that started it, so one query is kept running in a thread until the
process is told to stop. Production uses the official clickhouse-server image; nothing in
the Rust code knows about this launcher.

Usage: clickhouse_server.py --dir DATA_ROOT --port 8123 [--tcp-port 9000 --include FILE]

With --tcp-port it also speaks the native protocol, which a Distributed table uses to
reach the other shards; --include adds the XML of FILE to config.xml (remote_servers,
macros), as stack/cluster.sh does for the local cluster.
"""
import argparse
import os
import signal
import sys
import threading
import urllib.request

HOLD_QUERY_ID_MARK = "telemetry-stack-listener"

CONFIG_XML = """<clickhouse>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{port}</http_port>
    {extra}
    <users_config>{users}</users_config>
    <logger><level>warning</level><console>1</console></logger>
    <max_concurrent_queries>200</max_concurrent_queries>
</clickhouse>
"""

USERS_XML = """<clickhouse>
    <profiles>
        <default>
            <!-- chdb defaults to ZSTD; the clickhouse crate's compressed path speaks LZ4 -->
            <network_compression_method>LZ4</network_compression_method>
            <!-- clickhouse-local answers CSV by default; the server, and so every
                 analyst's curl against production, gets TabSeparated. -->
            <default_format>TabSeparated</default_format>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </default>
    </users>
    <quotas><default></default></quotas>
</clickhouse>
"""


def test_slots(production_users: str, slots: int) -> str:
    """The production users once more for each test slot: `consumer_t3` has exactly the
    grants of `consumer`, on the database `telemetry_t3` instead of `telemetry`.

    The end-to-end tests run in parallel, each on a database of its own, and each logs
    its services in as these users, so that what a service may do in a test is what it
    may do in production (clickhouse-local has no writable access storage, so the users
    cannot be created per test with SQL). A test claims a slot with a file lock
    (tests/src/slots.rs). Profiles, networks and passwords are the production users'.
    """
    import copy
    import xml.etree.ElementTree as ET

    users = ET.parse(production_users).getroot().find("users")
    out = ET.Element("clickhouse")
    out_users = ET.SubElement(out, "users")
    for slot in range(1, slots + 1):
        for user in users:
            twin = copy.deepcopy(user)
            twin.tag = f"{user.tag}_t{slot}"
            for query in twin.iter("query"):
                query.text = query.text.replace(" ON telemetry.", f" ON telemetry_t{slot}.")
            out_users.append(twin)
    return ET.tostring(out, encoding="unicode")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--tcp-port", type=int)
    ap.add_argument("--include")
    ap.add_argument("--test-slots", type=int, default=int(os.environ.get("STACK_TEST_SLOTS", "16")))
    args = ap.parse_args()

    root = os.path.abspath(args.dir)
    data = os.path.join(root, "data")
    os.makedirs(data, exist_ok=True)
    users = os.path.join(root, "users.xml")
    with open(users, "w") as f:
        f.write(USERS_XML)
    # The production users and grants, merged into users.xml by ClickHouse (users.d/),
    # with their passwords from the environment (stack.sh sets development ones).
    users_d = os.path.join(root, "users.d")
    os.makedirs(users_d, exist_ok=True)
    shared = os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "..", "compose", "clickhouse", "users.d", "telemetry.xml",
    )
    with open(shared, encoding="utf-8") as src, open(
        os.path.join(users_d, "telemetry.xml"), "w", encoding="utf-8"
    ) as dst:
        dst.write(src.read())
    with open(os.path.join(users_d, "test-slots.xml"), "w", encoding="utf-8") as dst:
        dst.write(test_slots(shared, args.test_slots))
    with open(os.path.join(root, "config.xml"), "w") as f:
        extra = ""
        if args.tcp_port:
            extra += f"<tcp_port>{args.tcp_port}</tcp_port>\n"
        if args.include:
            with open(args.include, encoding="utf-8") as inc:
                extra += inc.read()
        f.write(CONFIG_XML.format(port=args.port, users=users, extra=extra))
    # clickhouse-local reads config.xml from the current working directory.
    os.chdir(root)

    import chdb._chdb as engine  # heavy import: only after the config is in place

    done = threading.Event()
    stopping = threading.Event()
    failure = []

    def hold():
        try:
            engine.query(
                "SYSTEM START LISTEN HTTP; "
                + ("SYSTEM START LISTEN TCP; " if args.tcp_port else "")
                + f"SELECT '{HOLD_QUERY_ID_MARK}', sleepEachRow(1) FROM numbers(1000000000) "
                "SETTINGS max_block_size = 1 FORMAT Null",
                "CSV",
                path=data,
            )
        except Exception as e:  # noqa: BLE001 - reported to the operator, then exit
            failure.append(e)
        finally:
            done.set()

    t = threading.Thread(target=hold, daemon=True)
    t.start()

    def stop(*_):
        stopping.set()
        sql = (
            "KILL QUERY WHERE query LIKE '%" + HOLD_QUERY_ID_MARK + "%' "
            "AND query NOT LIKE '%KILL QUERY%' SYNC"
        )
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{args.port}/", data=sql.encode(), method="POST"
            )
            urllib.request.urlopen(req, timeout=5).read()
        except Exception:  # noqa: BLE001 - we exit either way
            pass
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
    if failure and not stopping.is_set():
        print(f"clickhouse listener ended: {failure[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
