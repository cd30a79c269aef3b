//! One HTTP POST and what its answer means for trying again.

use crate::target::Request;
use std::sync::Arc;
use std::time::Duration;

/// How often and how long a notification is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause before each attempt after the first: its length is the number of retries.
    pub delays: Vec<Duration>,
    /// The most one attempt may take, connecting included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts: now, a second later, four seconds after that; 10 s each at most.
    fn default() -> Self {
        RetryPolicy {
            delays: vec![Duration::from_secs(1), Duration::from_secs(4)],
            timeout: Duration::from_secs(10),
        }
    }
}

/// What a target answered, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status and the start of the answer's body.
    Status(u16, String),
    /// No answer: refused, timed out, TLS, DNS...
    Transport(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again (a server error, 408, 429, no answer); why.
    Retry(String),
    /// Trying again will not help (any other 4xx); why.
    GiveUp(String),
}

pub fn judge(answer: &Answer) -> Verdict {
    match answer {
        Answer::Status(s, _) if (200..300).contains(s) => Verdict::Delivered,
        Answer::Status(s, body) => {
            let why = match body.is_empty() {
                true => format!("HTTP {s}"),
                false => format!("HTTP {s}: {body}"),
            };
            match *s {
                408 | 429 => Verdict::Retry(why),
                400..500 => Verdict::GiveUp(why),
                _ => Verdict::Retry(why),
            }
        }
        Answer::Transport(why) => Verdict::Retry(why.clone()),
    }
}

/// Sends requests; the seam unit tests replace.
pub(crate) trait Post: Send {
    fn post(&mut self, request: &Request, timeout: Duration) -> Answer;
}

/// Over HTTP(S) with ureq and rustls (aws-lc-rs, the platform's trusted roots).
pub(crate) struct Http {
    agent: ureq::Agent,
}

/// How much of an error answer's body a failure quotes.
const QUOTED: usize = 200;

impl Http {
    pub(crate) fn new() -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http { agent }
    }
}

impl Post for Http {
    fn post(&mut self, request: &Request, timeout: Duration) -> Answer {
        let mut req = (self.agent.post(&request.url).config())
            .timeout_global(Some(timeout))
            .build();
        for (name, value) in &request.headers {
            req = req.header(*name, value);
        }
        match req.send(&request.body[..]) {
            Ok(mut reply) => {
                let status = reply.status().as_u16();
                let quoted = match status {
                    200..300 => String::new(),
                    _ => quote(reply.body_mut().with_config().limit(4096).read_to_vec()),
                };
                Answer::Status(status, quoted)
            }
            Err(e) => Answer::Transport(e.to_string()),
        }
    }
}

/// The start of an error answer, on one line.
fn quote(body: Result<Vec<u8>, ureq::Error>) -> String {
    let text = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
    let line: String = (text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars())
    .filter(|c| !c.is_control())
    .take(QUOTED)
    .collect();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_silence_are_retried_and_other_client_errors_are_not() {
        let status = |s| judge(&Answer::Status(s, String::new()));
        assert_eq!(status(200), Verdict::Delivered);
        assert_eq!(status(204), Verdict::Delivered);
        for s in [500, 502, 503, 408, 429] {
            assert!(matches!(status(s), Verdict::Retry(_)), "{s}");
        }
        for s in [400, 401, 403, 404, 413] {
            assert!(matches!(status(s), Verdict::GiveUp(_)), "{s}");
        }
        assert_eq!(
            judge(&Answer::Status(403, "topic is reserved".into())),
            Verdict::GiveUp("HTTP 403: topic is reserved".into())
        );
        assert_eq!(
            judge(&Answer::Transport("connection refused".into())),
            Verdict::Retry("connection refused".into())
        );
    }

    #[test]
    fn the_default_policy_tries_three_times_within_a_bound() {
        let p = RetryPolicy::default();
        assert_eq!(p.delays.len() + 1, 3);
        assert!(p.delays.iter().sum::<Duration>() + 3 * p.timeout <= Duration::from_secs(40));
    }
}
