"""t630_tasks.py - replays and redrives are background tasks (issue 11):
202 with the task, progress, cancel, one replay at a time, a rate, the
limits (LIMIT_TASKS_ACTIVE, LIMIT_TASK_RATE_MAX, LIMIT_REPLAY_EVENTS_MAX) at
the limit and one past it, and a replay that survives kill -9 mid-way
without re-publishing a page twice."""
import json
import sqlite3
import time

from harness import LIMITS, PG, Server, check, db_exec, db_rows, eq, is_problem, ok, run, task_done, wait_for

SINK = {"builtinTopology": False, "queues": [{"name": "sink"}],
        "rules": [{"name": "all", "eventPattern": {"source": ["task.test"]}, "targets": [{"queue": "sink"}]}]}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def put(srv, n):
    for i in range(0, n, 10):
        b = ok(srv, "POST", "/api/events", {"Entries": [{"Source": "task.test", "DetailType": "E", "Detail": {"n": k}}
                                                       for k in range(i, min(n, i + 10))]})
        eq(b["FailedEntryCount"], 0, "put")


def sent(srv):
    return ok(srv, "GET", "/api/queues/t-sink")["stats"]["sent"]


def test_replay_task_rate_conflict_cancel():
    with Server(env="t", config=SINK) as srv:
        t0 = time.time() - 60
        put(srv, 300)
        window = {"from": iso(t0), "to": iso(time.time() + 60)}
        base = sent(srv)
        # a rate: 300 events at 100 a second take about 3 s (pages of 10, 0.1 s apart)
        started = time.time()
        b = ok(srv, "POST", "/api/events/replay", dict(window, ratePerSecond=100), 202)
        eq((b["state"], b["eventsInWindow"], b["eventsReplayed"], b["ratePerSecond"]), ("RUNNING", 300, 0, 100),
           "started")
        # one replay at a time
        st, h, p = srv.request("POST", "/api/events/replay", window)
        is_problem(st, h, p, 409, "a second replay")
        eq(p["runningTaskId"], b["id"], "names the running one")
        seen = wait_for("progress shows", lambda: (lambda t: t if 0 < t["eventsReplayed"] < 300 else None)(
            ok(srv, "GET", "/api/tasks/" + b["id"])), timeout=10)
        t = task_done(srv, b, timeout=30)
        took = time.time() - started
        eq((t["state"], t["eventsReplayed"], t["deliveries"]), ("COMPLETED", 300, 300), "completed")
        check(took >= 2.0, "300 events at 100/s took %.2f s: the rate holds" % took)
        eq(sent(srv) - base, 300, "each event once")
        print("replay of 300 events at 100/s: %.2f s, progress seen at %d" % (took, seen["eventsReplayed"]))
        # cancel: stops at once, what it did stays
        b = ok(srv, "POST", "/api/events/replay", dict(window, ratePerSecond=20), 202)
        wait_for("a page", lambda: ok(srv, "GET", "/api/tasks/" + b["id"])["eventsReplayed"] > 0)
        c = ok(srv, "POST", "/api/tasks/%s/cancel" % b["id"])
        eq(c["state"], "CANCELLED", "cancelled")
        done = c["eventsReplayed"]
        time.sleep(0.5)
        t = ok(srv, "GET", "/api/tasks/" + b["id"])
        eq((t["state"], t["eventsReplayed"]), ("CANCELLED", done), "nothing after the cancel")
        st, h, p = srv.request("POST", "/api/tasks/%s/cancel" % b["id"])
        is_problem(st, h, p, 409, "cancel of a finished task")
        eq(srv.request("GET", "/api/tasks/nope")[0], 404, "no such task")
        # the list, newest first, paged
        first = ok(srv, "GET", "/api/tasks?limit=1")
        eq([x["id"] for x in first["tasks"]], [b["id"]], "newest first")
        second = ok(srv, "GET", "/api/tasks?limit=1&cursor=" + first["nextCursor"])
        eq(len(second["tasks"]), 1, "the next page")
        for bad in ("limit=0", "limit=%d" % (LIMITS["TASK_LIST_MAX"] + 1), "cursor=x"):
            st, h, p = srv.request("GET", "/api/tasks?" + bad)
            is_problem(st, h, p, 400, bad)
        # the rate's bounds
        for rate, want in ((0, 422), (LIMITS["TASK_RATE_MAX"] + 1, 422), (LIMITS["TASK_RATE_MAX"], 202)):
            st, h, p = srv.request("POST", "/api/events/replay", dict(window, ratePerSecond=rate))
            eq(st, want, "ratePerSecond %d: %r" % (rate, p))
            if st == 202:
                task_done(srv, p)


def test_replay_survives_kill9_without_doubling():
    with Server(env="t", config=SINK) as srv:
        put(srv, 2000)
        window = {"from": iso(time.time() - 60), "to": iso(time.time() + 60), "ratePerSecond": 1000}
        base = sent(srv)
        b = ok(srv, "POST", "/api/events/replay", window, 202)
        wait_for("part of it", lambda: ok(srv, "GET", "/api/tasks/" + b["id"])["eventsReplayed"] >= 500)
        srv.kill9()
        done_at_kill = int(db_rows(srv, "SELECT done FROM tasks WHERE id=?", b["id"])[0][0])
        routed = int(db_rows(srv, "SELECT count(*) FROM messages m JOIN queues q ON q.id=m.queue_id "
                             "WHERE q.name='t-sink'")[0][0])
        eq(routed - base, done_at_kill, "messages in the sink = the task's committed progress")
        srv.start()
        t = task_done(srv, b, timeout=60)
        eq((t["state"], t["eventsReplayed"], t["deliveries"]), ("COMPLETED", 2000, 2000), "resumed and completed")
        q = ok(srv, "GET", "/api/queues/t-sink")["stats"]
        eq(q["visible"], 2000 + 2000, "the original 2000 and each replayed event once")
        print("kill -9 after %d of 2000 replayed: resumed, 2000 delivered once each" % done_at_kill)


def test_redrive_tasks_limits():
    """LIMIT_TASKS_ACTIVE unfinished tasks: the next one is 400; one redrive
    per queue (409)."""
    most = LIMITS["TASKS_ACTIVE"]
    cfg = {"builtinTopology": False, "queues": [{"name": "d%d" % i} for i in range(most + 1)] + [{"name": "dest"}]}
    with Server(env="t", config=cfg) as srv:
        for i in range(most + 1):
            # 10 messages at 1 a second: each task runs for 9 s at least, longer
            # than starting the 32 takes (seconds on PostgreSQL under load)
            for k in range(10 if i < most else 2):
                ok(srv, "POST", "/api/queues/t-d%d/messages" % i, {"body": "m%d" % k})
        ids = []
        for i in range(most):
            b = ok(srv, "POST", "/api/queues/t-d%d/redrive" % i, {"destination": "t-dest", "ratePerSecond": 1}, 202)
            ids.append(b["id"])
        st, h, p = srv.request("POST", "/api/queues/t-d0/redrive", {"destination": "t-dest"})
        is_problem(st, h, p, 409, "a second redrive of the same queue")
        st, h, p = srv.request("POST", "/api/queues/t-d%d/redrive" % most, {"destination": "t-dest",
                                                                            "ratePerSecond": 1})
        is_problem(st, h, p, 400, "task %d" % (most + 1))
        check(str(most) in p["detail"], p["detail"])
        for i in ids:
            srv.request("POST", "/api/tasks/%s/cancel" % i)
        b = ok(srv, "POST", "/api/queues/t-d%d/redrive" % most, {"destination": "t-dest"}, 202)
        eq(task_done(srv, b)["messagesMoved"], 2, "room again")


def test_replay_window_most():
    """LIMIT_REPLAY_EVENTS_MAX events in the window replay (202); one more is 422."""
    most = LIMITS["REPLAY_EVENTS_MAX"]
    srv = Server(env="t", config=SINK).start()
    srv.stop()
    t = int(time.time() * 1000) - 3600 * 1000
    env = json.dumps({"version": "0", "source": "task.test", "detail-type": "E", "detail": {}})
    bulk = ("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO events(id,time_ms,source,detail_type,envelope) "
            "SELECT 'bulk-' || i, ? + i % 1000, 'task.test', 'E', ? FROM n")
    if PG:
        db_exec(srv, bulk, most, t, env)
    else:
        db = sqlite3.connect(srv.db)
        db.execute("PRAGMA cache_size=-262144")  # the indexes of a million rows in memory: seconds, not a minute
        db.execute(bulk, (most, t, env))
        db.commit()
        db.close()
    srv.start()
    try:
        window = {"from": iso(t / 1000 - 1), "to": iso(t / 1000 + 10), "ratePerSecond": 1}
        st, h, p = srv.request("POST", "/api/events/replay", window)
        is_problem(st, h, p, 422, "a window of %d events" % (most + 1))
        check(str(most) in json.dumps(p), p)
        srv.stop()
        db_exec(srv, "DELETE FROM events WHERE id='bulk-0'")
        srv.start()
        b = ok(srv, "POST", "/api/events/replay", window, 202)
        eq(b["eventsInWindow"], most, "the most")
        ok(srv, "POST", "/api/tasks/%s/cancel" % b["id"])
    finally:
        srv.stop()


if __name__ == "__main__":
    run(globals())
