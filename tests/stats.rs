//! Statistics: deltas, formatting, the per-lock top list.
use scx_proxy::report::{lock_kind_name, top_locks, LockEntry};
use scx_proxy::stats::Metrics;

fn lock(addr: &str, blocked_us: u64, waits: u64) -> LockEntry {
    LockEntry {
        addr: addr.into(),
        kind: "mutex".into(),
        owner: "renamer/42".into(),
        blocked_us,
        waits,
        ..Default::default()
    }
}

#[test]
fn delta_subtracts_counters_and_keeps_gauges() {
    let prev = Metrics {
        donations: 10,
        dispatch: 100,
        depth_hist: vec![5, 1, 0, 0, 0, 0, 0, 0],
        blocked_now: 3,
        rescued: 4,
        max_wait_us: 900,
        ..Default::default()
    };
    let cur = Metrics {
        donations: 15,
        dispatch: 90, // a restart reset the counters: never underflow
        depth_hist: vec![7, 1, 2, 0, 0, 0, 0, 0],
        blocked_now: 1,
        rescued: 10,
        max_wait_us: 700,
        ..Default::default()
    };
    let d = cur.delta(&prev);
    assert_eq!(d.donations, 5);
    assert_eq!(d.rescued, 6);
    // a maximum since load, not a counter: shown as it is
    assert_eq!(d.max_wait_us, 700);
    assert_eq!(d.dispatch, 0);
    assert_eq!(d.depth_hist, vec![2, 0, 2, 0, 0, 0, 0, 0]);
    assert_eq!(d.blocked_now, 1);
}

#[test]
fn format_shows_donations_and_locks() {
    let m = Metrics {
        donations: 7,
        proxy_migrations: 3,
        return_migrations: 2,
        rescued: 11,
        max_wait_us: 230_000,
        edge_foreign: 5,
        locks: vec![lock("0xffff1", 1500, 9)],
        ..Default::default()
    };
    let mut out = Vec::new();
    m.format(&mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("donations 7"), "{s}");
    assert!(s.contains("proxy mig 3"), "{s}");
    assert!(s.contains("return mig 2"), "{s}");
    assert!(
        s.contains("rescued 11") && s.contains("max wait 230000 us"),
        "{s}"
    );
    assert!(s.contains("foreign 5"), "{s}");
    assert!(s.contains("0xffff1") && s.contains("renamer/42"), "{s}");
}

#[test]
fn top_locks_orders_by_blocked_time() {
    let locks = vec![
        lock("a", 10, 1),
        lock("b", 500, 2),
        lock("c", 500, 9),
        lock("d", 1, 1),
    ];
    let top = top_locks(locks, 2);
    assert_eq!(
        top.iter().map(|l| l.addr.as_str()).collect::<Vec<_>>(),
        ["c", "b"]
    );
}

#[test]
fn lock_kinds_match_intf_h() {
    use scx_proxy::bpf_intf::*;
    assert_eq!(lock_kind_name(lock_type_LOCK_MUTEX), "mutex");
    assert_eq!(lock_kind_name(lock_type_LOCK_RWSEM), "rwsem");
    assert_eq!(lock_kind_name(lock_type_LOCK_FUTEX), "futex");
    assert_eq!(lock_kind_name(lock_type_LOCK_PI_FUTEX), "pi-futex");
    assert_eq!(lock_kind_name(0), "?");
}

#[test]
fn metrics_json_round_trip() {
    let m = Metrics {
        edge_mutex: 4,
        locks: vec![lock("x", 1, 1)],
        ..Default::default()
    };
    let s = serde_json::to_string(&m).unwrap();
    let back: Metrics = serde_json::from_str(&s).unwrap();
    assert_eq!(back, m);
}
