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
