use super::*;
use crate::deliver::Answer;
use crate::event::DeviceRef;

/// Answers from a script (then 200), after `delay`, recording every request.
#[derive(Clone, Default)]
struct Fake {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Request>>>,
    delay: Duration,
}

impl Post for Fake {
    fn post(&mut self, request: &Request, timeout: Duration) -> Answer {
        self.seen.lock().unwrap().push(request.clone());
        std::thread::sleep(self.delay.min(timeout));
        if self.delay > timeout {
            return Answer::Transport("timed out".into());
        }
        let next = self.answers.lock().unwrap().pop_front();
        next.unwrap_or(Answer::Status(200, String::new()))
    }
}

fn fake(answers: &[u16], delay: Duration) -> Fake {
    Fake {
        answers: Arc::new(Mutex::new(
            answers
                .iter()
                .map(|s| Answer::Status(*s, String::new()))
                .collect(),
        )),
        delay,
        ..Fake::default()
    }
}

fn quick(delays_ms: &[u64]) -> RetryPolicy {
    RetryPolicy {
        delays: delays_ms
            .iter()
            .map(|m| Duration::from_millis(*m))
            .collect(),
        timeout: Duration::from_secs(10),
    }
}

fn notifier(url: &str, policy: RetryPolicy, f: &Fake) -> Notifier {
    let f = f.clone();
    Notifier::with_transport(&[url.to_owned()], policy, move || Box::new(f.clone())).unwrap()
}

fn failed() -> Event {
    Event::BackupFailed {
        name: "iPad".into(),
        udid: None,
        error: "boom".into(),
    }
}

#[test]
fn server_errors_are_tried_again_until_delivered() {
    let f = fake(&[500, 503], Duration::ZERO);
    let n = notifier("https://hooks.example.org/x", quick(&[10, 10]), &f);
    n.send(failed());
    assert_eq!(n.finish(Duration::from_secs(5)), vec![]);
    assert_eq!(f.seen.lock().unwrap().len(), 3);
}

#[test]
fn a_client_error_is_not_tried_again_and_three_failures_are_the_end() {
    let f = fake(&[404], Duration::ZERO);
    let n = notifier("https://hooks.example.org/x", quick(&[10, 10]), &f);
    n.send(failed());
    let failures = n.finish(Duration::from_secs(5));
    assert_eq!(f.seen.lock().unwrap().len(), 1);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].reason, "HTTP 404");
    assert_eq!(failures[0].event, "backup_failed");
    assert_eq!(failures[0].target, "webhook https://hooks.example.org/…");

    let f = fake(&[500, 500, 500, 500], Duration::ZERO);
    let n = notifier("https://hooks.example.org/x", quick(&[10, 10]), &f);
    n.send(failed());
    let failures = n.finish(Duration::from_secs(5));
    assert_eq!(f.seen.lock().unwrap().len(), 3);
    assert_eq!(failures[0].reason, "HTTP 500 (after 3 attempts)");
}

#[test]
fn send_never_waits_and_a_full_queue_drops_the_oldest() {
    // A target that takes 10 s an answer: the first job is sent, the rest wait.
    let f = fake(&[], Duration::from_secs(10));
    let n = notifier("https://hooks.example.org/x", quick(&[]), &f);
    let started = Instant::now();
    for _ in 0..1000 {
        n.send(failed());
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let failures = n.finish(Duration::from_millis(200));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let reasons: Vec<&str> = failures.iter().map(|f| f.reason.as_str()).collect();
    // One taken by the thread, QUEUE waiting; the rest dropped.
    let dropped = format!("{} notification(s) dropped", 1000 - QUEUE - 1);
    assert!(
        reasons.iter().any(|r| r.starts_with(&dropped)),
        "{reasons:?}"
    );
    let left = format!("{} notification(s) not sent within 0.2 s", QUEUE + 1);
    assert!(reasons.contains(&left.as_str()), "{reasons:?}");
}

#[test]
fn finish_cuts_the_pauses_between_attempts_short() {
    let f = fake(&[500, 500], Duration::ZERO);
    let n = notifier("https://hooks.example.org/x", quick(&[60_000, 60_000]), &f);
    n.send(failed());
    let started = Instant::now();
    let failures = n.finish(Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(failures[0].reason, "HTTP 500 (no time left to try again)");
}

#[test]
fn successes_go_to_pings_only() {
    let f = fake(&[], Duration::ZERO);
    let urls = [
        "https://ntfy.sh/family".to_owned(),
        "https://hooks.example.org/x".to_owned(),
        "https://hc-ping.com/5f3e".to_owned(),
    ];
    let g = f.clone();
    let n = Notifier::with_transport(&urls, quick(&[]), move || Box::new(g.clone())).unwrap();
    n.send(Event::BackupSucceeded {
        device: DeviceRef {
            name: "iPad".into(),
            udid: "ab".into(),
        },
        snapshot: "1a2b3c4d".into(),
        files: 1,
        bytes_added: 1,
        unchanged: false,
    });
    n.send(failed());
    assert_eq!(n.finish(Duration::from_secs(5)), vec![]);
    let mut urls: Vec<String> = f
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        [
            "https://hc-ping.com/5f3e",
            "https://hc-ping.com/5f3e/fail",
            "https://hooks.example.org/x",
            "https://ntfy.sh/family"
        ]
    );
}

#[test]
fn an_unreachable_target_fails_without_naming_its_secret_path() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/secret-topic-9f2");
    let n = Notifier::with_policy(&[url], quick(&[10, 10])).unwrap();
    n.send(failed());
    let failures = n.finish(Duration::from_secs(10));
    assert_eq!(failures.len(), 1, "{failures:?}");
    let text = failures[0].to_string();
    assert!(text.contains("(after 3 attempts)"), "{text}");
    assert!(!text.contains("secret-topic"), "{text}");
    assert!(
        text.starts_with(&format!(
            "webhook http://127.0.0.1:{port}/…: backup_failed: "
        )),
        "{text}"
    );
}

#[test]
fn no_targets_send_nothing() {
    let n = Notifier::new(&[]).unwrap();
    assert!(n.is_empty());
    n.send(failed());
    assert_eq!(n.finish(Duration::ZERO), vec![]);
}

#[test]
fn a_notifier_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Notifier>();
}

#[test]
fn https_goes_through_rustls_and_a_server_that_does_not_speak_tls_is_a_failure() {
    // Answers plain HTTP to whatever it is sent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            use std::io::Write;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let n = Notifier::with_policy(&[format!("https://127.0.0.1:{port}/x")], quick(&[])).unwrap();
    n.send(failed());
    let failures = n.finish(Duration::from_secs(10));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].reason.contains("(after 1 attempt)"),
        "{failures:?}"
    );
}
