//! C03, memory: many over-size bodies at once must not be buffered. This
//! file holds one test so that it runs in a process of its own, where the
//! peak resident size (`VmHWM`) measures the server and nothing else.

mod common;

use std::time::Duration;

use common::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Streams 5 MiB chunked, 16 KiB at a time, and returns the status line.
async fn flood(addr: String) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/contact HTTP/1.1\r\nHost: kiln.test\r\nOrigin: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        common::ORIGIN
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let chunk = format!("4000\r\n{}\r\n", "a".repeat(0x4000));
        for _ in 0..320 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(20), reader.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    sender.abort();
    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_5_mib_bodies_do_not_grow_memory_by_their_size() {
    let app = TestApp::start().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Warm up allocator pools and connections with one flood first.
    assert_eq!(flood(addr.clone()).await, "HTTP/1.1 413 Payload Too Large");
    let before = peak_rss_kib();

    let floods: Vec<_> = (0..20).map(|_| tokio::spawn(flood(addr.clone()))).collect();
    let health = app.http.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "server stays responsive during the flood");
    for flood in floods {
        assert_eq!(flood.await.unwrap(), "HTTP/1.1 413 Payload Too Large");
    }

    // Buffering the bodies would take 100 MiB; the cap allows 20 × 64 KiB.
    let grown_mib = (peak_rss_kib() - before) / 1024;
    assert!(grown_mib < 30, "peak memory grew by {grown_mib} MiB");
}
