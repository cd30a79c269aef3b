//! Who may talk to the server: the holder of the session token.
//!
//! `hearth ui` opens `http://127.0.0.1:PORT/?token=T`. The first request with a right `token`
//! query gets a cookie holding T (`HttpOnly`, `SameSite=Strict`) and is sent on to the same page
//! without the token in its URL (so it is not left in the history or in a `Referer`). Every
//! later request must carry the cookie; one without it gets 403, whatever it asks for. A server
//! listening beyond loopback also takes a password on `/login`, which sets the same cookie.
//!
//! A state-changing request is a POST carrying the CSRF token (a form field `csrf` or the
//! header `x-csrf-token`); its `Origin`, when the browser sends one, must be this server. The
//! `Host` header must name this server too, so a page of another site that rebinds its DNS name
//! to 127.0.0.1 is refused.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::error::UiError;
use crate::operations::Fields;
use crate::state::App;
use axum::Form;
use axum::extract::FromRequest;

/// The session cookie's name.
pub const COOKIE: &str = "hearth_session";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The server's secrets, made at start and never written anywhere.
pub struct Auth {
    token: String,
    csrf: String,
    /// The password of `/login`, for a server listening beyond loopback.
    password: Option<Vec<u8>>,
    /// The `Host` values this server answers to.
    hosts: Vec<String>,
}

impl Auth {
    pub fn new(addr: SocketAddr, password: Option<Vec<u8>>) -> Result<Self, getrandom::Error> {
        let mut hosts = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            hosts.push(format!("localhost:{}", addr.port()));
            hosts.push(format!("127.0.0.1:{}", addr.port()));
            hosts.push(format!("[::1]:{}", addr.port()));
        }
        Ok(Self {
            token: random_hex()?,
            csrf: random_hex()?,
            password,
            hosts,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `/login` takes a password (a server reachable beyond loopback).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    pub fn password_matches(&self, given: &[u8]) -> bool {
        self.password
            .as_deref()
            .is_some_and(|p| constant_time_eq(p, given))
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        // Any host is allowed when listening beyond loopback: there the password guards.
        if self.password.is_some() {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        host.is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        cookies(headers).any(|(name, value)| {
            name == COOKIE && constant_time_eq(value.as_bytes(), self.token.as_bytes())
        })
    }

    /// A POST's CSRF token (form field or header) and origin are this server's.
    pub fn csrf_ok(&self, headers: &HeaderMap, form_field: Option<&str>) -> bool {
        let given = form_field.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
        let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                host.is_some_and(|h| origin.strip_prefix("http://") == Some(h))
            }
        };
        origin_ok && given.is_some_and(|g| constant_time_eq(g.as_bytes(), self.csrf.as_bytes()))
    }

    /// The `Set-Cookie` value of a session.
    pub fn session_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            self.token
        ))
        .expect("hex is a header value")
    }
}

/// A POSTed form whose CSRF token and origin were checked: the one way handlers take a form
/// that changes something.
pub struct CheckedForm(pub Fields);

impl FromRequest<Arc<App>> for CheckedForm {
    type Rejection = Response;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let Form(fields) = Form::<Fields>::from_request(request, app)
            .await
            .map_err(IntoResponse::into_response)?;
        match app
            .auth
            .csrf_ok(&headers, fields.get("csrf").map(String::as_str))
        {
            true => Ok(CheckedForm(fields)),
            false => Err(UiError::Forbidden.into_response()),
        }
    }
}

/// The gate every request passes: right host, then the token moved into a cookie, then the
/// cookie. `/login` and the stylesheet are open (the login page needs them).
pub async fn gate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let auth = &app.auth;
    if !auth.host_allowed(request.headers()) {
        return refused(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name",
        );
    }
    if let Some(rest) = token_in_query(request.uri().query(), auth.token()) {
        let path = request.uri().path();
        let target = match rest.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{rest}"),
        };
        let mut response = Redirect::to(&target).into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth.session_cookie());
        return response;
    }
    let open = matches!(request.uri().path(), "/login" | "/assets/app.css");
    if !open && !auth.has_session(request.headers()) {
        if auth.has_password() && request.method() == Method::GET {
            return Redirect::to("/login").into_response();
        }
        return refused(
            StatusCode::FORBIDDEN,
            "this page needs the link `hearth ui` printed (it holds a one-time token)",
        );
    }
    next.run(request).await
}

/// Headers every response carries: nothing of another origin runs or loads, the page is never
/// framed, and no URL leaves for another origin in a `Referer`.
///
/// The referrer policy is `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
/// `Origin: null` with every form POST (Fetch, "serializing a request origin"), which the CSRF
/// check ([`Auth::csrf_ok`]) rightly refuses, so no button of the dashboard would work.
pub async fn hardened(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn refused(status: StatusCode, why: &str) -> Response {
    let mut r = (status, Body::from(format!("{why}\n"))).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// With `token=<ours>` in the query: the rest of the query. Otherwise None.
fn token_in_query(query: Option<&str>, token: &str) -> Option<String> {
    let query = query?;
    let mut found = false;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(v) if constant_time_eq(v.as_bytes(), token.as_bytes()) => {
                found = true;
                false
            }
            _ => true,
        })
        .collect();
    found.then(|| rest.join("&"))
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

fn random_hex() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_out_of_the_query_and_the_rest_kept() {
        assert_eq!(
            token_in_query(Some("token=abc"), "abc").as_deref(),
            Some("")
        );
        assert_eq!(
            token_in_query(Some("a=1&token=abc&b=2"), "abc").as_deref(),
            Some("a=1&b=2")
        );
        assert_eq!(token_in_query(Some("token=abd"), "abc"), None);
        assert_eq!(token_in_query(Some("token=ab"), "abc"), None);
        assert_eq!(token_in_query(None, "abc"), None);
    }

    #[test]
    fn csrf_needs_the_token_and_our_origin() {
        let auth = Auth::new("127.0.0.1:4000".parse().unwrap(), None).unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4000"));
        assert!(!auth.csrf_ok(&h, None));
        assert!(!auth.csrf_ok(&h, Some("wrong")));
        assert!(auth.csrf_ok(&h, Some(auth.csrf())));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!auth.csrf_ok(&h, Some(auth.csrf())));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:4000"),
        );
        assert!(auth.csrf_ok(&h, Some(auth.csrf())));
    }

    #[test]
    fn only_our_host_names_are_answered_on_loopback() {
        let auth = Auth::new("127.0.0.1:4000".parse().unwrap(), None).unwrap();
        let with = |host: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static(host));
            auth.host_allowed(&h)
        };
        assert!(with("127.0.0.1:4000"));
        assert!(with("localhost:4000"));
        assert!(!with("attacker.example:4000"));
        assert!(!with("127.0.0.1:4001"));
        assert!(!auth.host_allowed(&HeaderMap::new()));
    }
}
