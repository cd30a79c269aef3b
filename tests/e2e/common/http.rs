//! HTTP requests of the tests' own (ureq, without TLS: loopback only), for the servers the
//! binary starts (`hearth webdav`, `hearth ui`).

use std::time::Duration;

/// An answer: status, headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Status, headers, body.
    pub fn parts(self) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
        (self.status, self.headers, self.body)
    }

    /// Status and body text.
    pub fn pair(&self) -> (u16, String) {
        (self.status, self.text())
    }

    /// Where a redirect leads.
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_default()
    }
}

/// Every status is an answer, redirects are not followed, WebDAV's methods are allowed, no
/// proxy is asked.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// One request, the whole answer read.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let reply = agent()
        .run(req.body(body.to_vec()).unwrap())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (parts, body) = reply.into_parts();
    let body = body
        .into_with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}
