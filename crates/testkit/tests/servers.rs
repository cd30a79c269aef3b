//! The test servers, client and proxy of `hearth_testkit::servers` on their own: they need no
//! `hearth`. They skip loudly without the venv (see the module's docs).

use hearth_testkit::servers::{
    FaultPlan, FaultProxy, MotoServer, Op, RcloneS3, S3Client, S3Server,
};

/// A client that goes through `proxy` to moto.
fn through(proxy: &FaultProxy) -> S3Client {
    S3Client::new(proxy.port(), MotoServer::ACCESS_KEY, MotoServer::SECRET_KEY)
}

/// A proxy's log without the query strings of presigned URLs: `N METHOD PATH -> what`.
fn paths(log: &[String]) -> Vec<String> {
    log.iter()
        .map(|l| match (l.find('?'), l.find(" HTTP/")) {
            (Some(q), Some(h)) if q < h => format!("{}{}", &l[..q], &l[h..]),
            _ => l.clone(),
        })
        .collect()
}

#[test]
fn moto_answers_creates_buckets_lists_page_by_page_and_serves_objects() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("fixture-bucket");
    assert!(moto.list_keys("fixture-bucket").is_empty());
    for (key, body) in [
        ("p/config", &b"hello"[..]),
        ("p/keys/a", b"a"),
        ("p/keys/b", b"b"),
    ] {
        moto.put("fixture-bucket", key, body);
    }
    assert_eq!(
        moto.list_keys("fixture-bucket"),
        ["p/config", "p/keys/a", "p/keys/b"]
    );
    assert_eq!(
        moto.client().list_keys_paged("fixture-bucket", 2),
        ["p/config", "p/keys/a", "p/keys/b"],
        "two pages"
    );
    assert_eq!(
        moto.get("fixture-bucket", "p/config").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(moto.client().head("fixture-bucket", "p/config"), Some(5));
    assert_eq!(moto.get("fixture-bucket", "p/nothing"), None);
    assert_eq!(moto.client().head("fixture-bucket", "p/nothing"), None);
    moto.delete("fixture-bucket", "p/keys/a");
    assert_eq!(moto.list_keys("fixture-bucket"), ["p/config", "p/keys/b"]);
    // A bucket that does not exist is not made up.
    assert!(moto.client().bucket_exists("fixture-bucket"));
    assert!(!moto.client().bucket_exists("no-such-bucket"));
    let r = moto.client().list_page("no-such-bucket", 10, None).unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn rclone_serves_a_folder_and_wants_signed_requests() {
    let Some(rc) = RcloneS3::start() else {
        return;
    };
    rc.create_bucket("bucket");
    std::fs::create_dir_all(rc.root().join("bucket/p/keys")).unwrap();
    std::fs::write(rc.root().join("bucket/p/keys/k"), b"key").unwrap();
    assert_eq!(rc.list_keys("bucket"), ["p/keys/k"]);
    // Signed: served, as a client sees it.
    assert_eq!(rc.client().list_keys("bucket"), ["p/keys/k"]);
    assert_eq!(
        rc.client().get("bucket", "p/keys/k").as_deref(),
        Some(&b"key"[..])
    );
    // Unsigned, or signed with the wrong secret: refused.
    for (client, what) in [
        (S3Client::anonymous(rc.port()), "unsigned"),
        (
            S3Client::new(rc.port(), RcloneS3::ACCESS_KEY, "not-the-secret"),
            "wrong secret",
        ),
    ] {
        let r = client.send("bucket", "p/keys/k", Op::Get).unwrap();
        assert!(r.status >= 400, "{what}: {} {}", r.status, r.text());
    }
}

#[test]
fn proxy_forwards_injects_faults_and_counts_them() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("proxied");

    // No faults: requests and responses pass unchanged, bodies of any size.
    let proxy = FaultProxy::start(moto.port(), FaultPlan::default());
    let client = through(&proxy);
    let body = vec![7u8; 300_000];
    let r = client.send("proxied", "big", Op::Put(&body)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = client.send("proxied", "big", Op::Get).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    let r = client.send("proxied", "big", Op::Head).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_length, Some(300_000));
    assert_eq!(client.list_keys("proxied"), ["big"]);
    assert_eq!(proxy.requests(), 4, "{}", proxy.summary());
    assert_eq!(proxy.forwarded(), 4, "{}", proxy.summary());
    assert_eq!(proxy.faults(), 0);
    drop(proxy);

    // Every kind of fault, by request number.
    moto.create_bucket("faulty");
    let plan = FaultPlan {
        status_503_every: Some(3),
        drop_every: Some(4),
        lose_response_every: Some(5),
        ..FaultPlan::default()
    };
    let proxy = FaultProxy::start(moto.port(), plan);
    let client = through(&proxy);
    let seen: Vec<String> = (1..=12u64)
        .map(|i| {
            let body = vec![b'a'; 10_000];
            match client.send("faulty", &format!("o{i}"), Op::Put(&body)) {
                Ok(r) => r.status.to_string(),
                Err(_) => "closed".into(),
            }
        })
        .collect();
    // 3, 6, 9, 12: 503; 4, 8: dropped; 5, 10: lost (but stored); the rest: 200.
    assert_eq!(
        seen,
        [
            "200", "200", "503", "closed", "closed", "503", "200", "closed", "503", "closed",
            "200", "503"
        ],
        "{}",
        proxy.summary()
    );
    assert_eq!(proxy.faults(), 8, "{}", proxy.summary());
    assert_eq!(proxy.status_503s(), 4);
    assert_eq!(proxy.drops(), 2);
    assert_eq!(proxy.lost_responses(), 2);
    // What the server got: everything but the 503s and the drops.
    assert_eq!(
        moto.list_keys("faulty"),
        ["o1", "o10", "o11", "o2", "o5", "o7"]
    );
    drop(proxy);

    // A server that goes away after two requests.
    let proxy = FaultProxy::start(moto.port(), FaultPlan::fail_after(2));
    let client = through(&proxy);
    let statuses: Vec<u16> = (0..5)
        .map(|_| client.list_page("faulty", 1000, None).unwrap().status)
        .collect();
    assert_eq!(statuses, [200, 200, 503, 503, 503]);
    assert_eq!(proxy.faults(), 3);
    drop(proxy);

    // A server that goes away once a request has matched (presigned: the path, then `?`).
    let proxy = FaultProxy::start(
        moto.port(),
        FaultPlan::fail_after_request_with("GET /faulty/o7?"),
    );
    let client = through(&proxy);
    let statuses: Vec<u16> = ["o1", "o7", "o1"]
        .iter()
        .map(|k| client.send("faulty", k, Op::Get).unwrap().status)
        .collect();
    assert_eq!(statuses, [200, 200, 503]);
    assert_eq!(
        paths(&proxy.log()),
        [
            "1 GET /faulty/o1 HTTP/1.1 -> 200",
            "2 GET /faulty/o7 HTTP/1.1 -> 200",
            "3 GET /faulty/o1 HTTP/1.1 -> 503"
        ]
    );
}
