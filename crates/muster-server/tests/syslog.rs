//! The syslog listener on loopback: real CEF and LEEF samples over UDP and
//! TCP (both framings), and a flood that is dropped and counted, not hoarded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Backend, TestServer};
use tokio::io::AsyncWriteExt;

fn lines(rel: &str) -> Vec<String> {
    std::fs::read_to_string(muster_testkit::shared_data().join(rel))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

async fn server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |c| {
        c.syslog_udp = Some("127.0.0.1:0".parse().unwrap());
        c.syslog_tcp = Some("127.0.0.1:0".parse().unwrap());
        c.syslog_org = Some("syslog-org".into());
    })
    .await
    .unwrap()
}

async fn wait_for(s: &TestServer, what: impl Fn(u64) -> bool) -> u64 {
    let org = s.store.get_org_by_slug("syslog-org").await.unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, sightings) = s.store.alert_totals(org).await.unwrap();
        let n = sightings as u64;
        if what(n) || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cef_over_udp_and_leef_over_tcp_become_alerts() {
    let s = server().await;
    let sys = s.syslog.clone().unwrap();
    let cef = lines("samples/cef/EXTRACTED-wazuh-fireeye.cef");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for l in &cef {
        udp.send_to(l.as_bytes(), sys.udp.unwrap()).await.unwrap();
    }
    let after_udp = wait_for(&s, |n| n + sys.stats.rejected.load(Ordering::Relaxed) >= cef.len() as u64).await;
    assert_eq!(
        after_udp + sys.stats.rejected.load(Ordering::Relaxed),
        cef.len() as u64,
        "each datagram became a sighting or a counted rejection"
    );
    assert!(after_udp > 0);

    // TCP: half newline-framed, half octet-counted, in one stream.
    let leef = lines("samples/leef/EXTRACTED-wazuh-panda-paps.leef");
    let mut tcp = tokio::net::TcpStream::connect(sys.tcp.unwrap()).await.unwrap();
    for (i, l) in leef.iter().enumerate() {
        if i % 2 == 0 {
            tcp.write_all(format!("{l}\n").as_bytes()).await.unwrap();
        } else {
            tcp.write_all(format!("{} {l}", l.len()).as_bytes()).await.unwrap();
        }
    }
    tcp.shutdown().await.unwrap();
    let total = wait_for(&s, |n| n >= after_udp + leef.len() as u64).await;
    assert_eq!(total, after_udp + leef.len() as u64, "every LEEF message became an alert sighting");
    let org = s.store.get_org_by_slug("syslog-org").await.unwrap().id;
    let rows = s.store.list_alerts(org, None, 100).await.unwrap();
    assert!(rows.iter().any(|r| r.format == "leef") && rows.iter().any(|r| r.format == "cef"));
}

#[tokio::test]
async fn a_udp_flood_is_bounded_and_tcp_still_works_after_it() {
    let s = server().await;
    let sys = s.syslog.clone().unwrap();
    let cef = lines("samples/cef/EXTRACTED-wazuh-fireeye.cef");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let garbage = vec![b'x'; 2000];
    for i in 0..60_000 {
        let msg = if i % 3 == 0 { cef[i % cef.len()].as_bytes() } else { &garbage[..] };
        let _ = udp.send_to(msg, sys.udp.unwrap()).await;
    }
    // The server stays responsive and keeps taking TCP.
    let leef = lines("samples/leef/EXTRACTED-wazuh-panda-paps.leef");
    // Let the queue drain, then note where we are.
    let org = s.store.get_org_by_slug("syslog-org").await.unwrap().id;
    let mut before = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = s.store.alert_totals(org).await.unwrap().1 as u64;
        if now == before && now > 0 {
            break;
        }
        before = now;
    }
    let mut tcp = tokio::net::TcpStream::connect(sys.tcp.unwrap()).await.unwrap();
    tcp.write_all(format!("{}\n", leef[0]).as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap();
    let after = wait_for(&s, |n| n > before).await;
    assert!(after > before, "TCP message processed after the flood");
    let st = &sys.stats;
    let (received, dropped, rejected) =
        (st.received.load(Ordering::Relaxed), st.dropped.load(Ordering::Relaxed), st.rejected.load(Ordering::Relaxed));
    assert!(received > 0 && rejected > 0, "garbage was rejected: {received} {dropped} {rejected}");
    assert_eq!(reqwest::get(s.url("/healthz")).await.unwrap().status(), 200);
}
