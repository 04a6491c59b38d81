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
