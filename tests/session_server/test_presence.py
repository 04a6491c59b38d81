from session_server.protocol.presence import PresenceTable, PresenceTick, merge


def test_latest_wins_and_only_changes_are_sent() -> None:
    t = PresenceTable()
    assert t.tick() is None
    for x in range(30):
        t.update("ana", [float(x), 0, 0, 0, 0, 0, 1])
    t.update("ben", [1.0, 0, 0, 0, 0, 0, 1])
    tick = t.tick()
    assert tick is not None and tick.poses == {
        "ana": [29.0, 0, 0, 0, 0, 0, 1],
        "ben": [1.0, 0, 0, 0, 0, 0, 1],
    }
    t.update("ben", [2.0, 0, 0, 0, 0, 0, 1])
    t.remove("ana")
    tick = t.tick()
    assert tick == PresenceTick({"ben": [2.0, 0, 0, 0, 0, 0, 1]}, ("ana",))
    assert t.tick() is None


def test_merge_equals_sequential_application() -> None:
    a = PresenceTick({"ana": [1.0], "ben": [1.0]}, ("cy",))
    b = PresenceTick({"ben": [2.0], "cy": [3.0]}, ("ana",))
    merged = merge(a, b)
    assert merged.poses == {"ben": [2.0], "cy": [3.0]} and merged.gone == ("ana",)


def test_delta_log_ages_out_but_keeps_order_and_revisions() -> None:
    from session_server.protocol.deltas import Delta, DeltaLog

    log = DeltaLog(1000, max_age=10.0)
    for rev in range(1, 31):
        log.append(Delta(rev, "chat", {"text": str(rev)}), now=float(rev))
    assert len(log) == 11  # revisions 20..30 are at most 10 s old at t = 30
    assert log.since(25) is not None and [d.rev for d in log.since(25) or []] == [26, 27, 28, 29, 30]
    assert log.since(5) is None  # fell out: the client gets a snapshot
    assert log.since(30) == []


def test_nearby_sends_each_cell_its_neighbourhood_and_gone_to_all() -> None:
    from session_server.protocol.presence import Nearby

    positions = {
        "ana": [0.5, 1.6, 0.5, 0, 0, 0, 1],
        "ben": [4.9, 1.6, -4.0, 0, 0, 0, 1],  # 6.3 m from ana: neighbouring cell, still sent
        "cid": [40.0, 1.6, 0.0, 0, 0, 0, 1],
    }
    tick = PresenceTick(dict(positions), ("eve",))
    near = Nearby(tick, positions, radius=5.0)
    ana = near.tick_for(near.cell_of("ana"))
    cid = near.tick_for(near.cell_of("cid"))
    assert ana is not None and set(ana.poses) == {"ana", "ben"} and ana.gone == ("eve",)
    assert cid is not None and set(cid.poses) == {"cid"}
    assert near.tick_for(near.cell_of("viewer-without-pose")) is tick
    quiet = Nearby(PresenceTick({"cid": positions["cid"]}), positions, radius=5.0)
    assert quiet.tick_for(quiet.cell_of("ana")) is None  # nothing near and nobody gone: no frame at all
    # everyone within the radius is always included, whatever the grid alignment
    for x in (-7.3, -2.5, 0.0, 3.3, 9.99):
        for dx in (-4.99, -1.0, 0.0, 2.0, 4.99):
            pos = {"a": [x, 0, 0], "b": [x + dx, 0, 0.5]}
            n = Nearby(PresenceTick({"b": pos["b"]}), pos, radius=5.0)
            got = n.tick_for(n.cell_of("a"))
            assert got is not None and "b" in got.poses
