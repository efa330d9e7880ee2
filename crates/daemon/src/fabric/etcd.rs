//! etcd's v3 API through its JSON gateway, over HTTP/1.1 (hyper): the few
//! calls the fabric makes (range, a put guarded by a compare, lease grant,
//! keep-alive and revoke, and a watch streamed from a revision on).
//!
//! Why the gateway and not gRPC: the Rust gRPC clients for etcd compile
//! etcd's .proto files at build time, which needs protoc and its
//! well-known .proto files on every machine that builds vepa. The gateway
//! (served by etcd on its client port since 3.4) has the same semantics
//! with JSON bodies: keys and values are base64, 64-bit integers are
//! strings, and fields at their zero value are left out (a watch event
//! without `type` is a PUT, a keep-alive without `TTL` found no lease).
//! A streamed answer (the watch) is one JSON object a line.
//!
//! Over `https://` the client verifies etcd's certificate (chain and name)
//! against a CA file and presents its own (etcd's `--client-cert-auth`).
//! With a user and password it authenticates (`/v3/auth/authenticate`) and
//! sends the token with every request, so etcd's RBAC decides what this
//! host may write (see the README's etcd layout).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The most an answer (or one line of a watch) may weigh: a range of a
/// whole fabric's records fits many times over.
const MAX_ANSWER: usize = 32 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("'{0}' is not an etcd endpoint; expected http://HOST:PORT or https://HOST:PORT")]
    Endpoint(String),
    #[error("'{0}': https:// needs --etcd-cacert, --etcd-cert and --etcd-key")]
    NoTls(String),
    #[error("{endpoint}: {what}")]
    Unreachable { endpoint: String, what: String },
    /// etcd answered, with an error of its own (gRPC code and message).
    #[error("etcd: {message} (code {code})")]
    Refused { code: i64, message: String },
    #[error("{endpoint}: unexpected answer: {what}")]
    Answer { endpoint: String, what: String },
}

type Result<T> = std::result::Result<T, EtcdError>;

/// A client of one etcd cluster: requests go to one endpoint and move to
/// the next when it cannot be reached.
pub struct Etcd {
    endpoints: Vec<Endpoint>,
    current: AtomicUsize,
    tls: Option<tokio_rustls::TlsConnector>,
    credentials: Option<Credentials>,
    /// The auth token of the last authentication, sent with each request.
    token: Mutex<Option<String>>,
}

/// An etcd user (RBAC): this host's name and password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <password>)", self.user)
    }
}

#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    /// host:port, to connect to and for the Host header.
    authority: String,
    /// `https://`: the host, the name its certificate must carry.
    tls_name: Option<rustls_pki_types::ServerName<'static>>,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint> {
        let bad = || EtcdError::Endpoint(url.to_string());
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(r), _) => (false, r),
            (None, Some(r)) => (true, r),
            (None, None) => return Err(bad()),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
            return Err(bad());
        }
        // A port is required unless the host is all there is.
        let authority = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                port.parse::<u16>().map_err(|_| bad())?;
                if host.is_empty() {
                    return Err(bad());
                }
                authority.to_string()
            }
            _ => format!("{authority}:2379"),
        };
        let tls_name = if tls {
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h)
                .trim_matches(|c| c == '[' || c == ']');
            Some(rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|_| bad())?)
        } else {
            None
        };
        Ok(Endpoint {
            url: url.to_string(),
            authority,
            tls_name,
        })
    }

    fn unreachable(&self, what: impl Into<String>) -> EtcdError {
        EtcdError::Unreachable {
            endpoint: self.url.clone(),
            what: what.into(),
        }
    }

    fn bad_answer(&self, what: impl Into<String>) -> EtcdError {
        EtcdError::Answer {
            endpoint: self.url.clone(),
            what: what.into(),
        }
    }
}

impl Etcd {
    /// A client of `urls` (`https://` ones need `tls`), as `credentials`'s
    /// user if given.
    pub fn new(
        urls: &[String],
        tls: Option<Arc<rustls::ClientConfig>>,
        credentials: Option<Credentials>,
    ) -> Result<Etcd> {
        let endpoints = urls
            .iter()
            .map(|u| Endpoint::parse(u))
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            return Err(EtcdError::Endpoint(String::new()));
        }
        if let Some(e) = endpoints.iter().find(|e| e.tls_name.is_some()) {
            if tls.is_none() {
                return Err(EtcdError::NoTls(e.url.clone()));
            }
        }
        Ok(Etcd {
            endpoints,
            current: AtomicUsize::new(0),
            tls: tls.map(tokio_rustls::TlsConnector::from),
            credentials,
            token: Mutex::new(None),
        })
    }

    fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Signs in as the configured user; the token goes with what follows.
    async fn authenticate(&self) -> Result<()> {
        let Some(c) = &self.credentials else {
            return Ok(());
        };
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
        }
        let body = json!({ "name": c.user, "password": c.password });
        let (ep, incoming) = self.send_once("/v3/auth/authenticate", &body, None).await?;
        let t: Token = read_body(&ep, incoming).await?;
        if t.token.is_empty() {
            return Err(ep.bad_answer("authenticate: no token (is auth enabled in etcd?)"));
        }
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(t.token);
        Ok(())
    }

    /// [`Etcd::send_once`], signing in first (and again once, when etcd
    /// says the token is no longer good).
    async fn send(&self, path: &str, body: &Value) -> Result<(Endpoint, Incoming)> {
        if self.credentials.is_some() && self.token().is_none() {
            self.authenticate().await?;
        }
        match self.send_once(path, body, self.token()).await {
            Err(EtcdError::Refused { message, .. })
                if self.credentials.is_some() && message.contains("token") =>
            {
                self.authenticate().await?;
                self.send_once(path, body, self.token()).await
            }
            r => r,
        }
    }

    /// Sends `body` to `path` on the current endpoint, then on each other
    /// one while they cannot be reached; returns the endpoint that answered
    /// 200 (it becomes the current one) and the answer's body.
    async fn send_once(
        &self,
        path: &str,
        body: &Value,
        token: Option<String>,
    ) -> Result<(Endpoint, Incoming)> {
        let body = Bytes::from(body.to_string());
        let first = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..self.endpoints.len() {
            let n = (first + i) % self.endpoints.len();
            let ep = &self.endpoints[n];
            match post(ep, self.tls.as_ref(), token.as_deref(), path, body.clone()).await {
                Ok(incoming) => {
                    self.current.store(n, Ordering::Relaxed);
                    return Ok((ep.clone(), incoming));
                }
                Err(e @ EtcdError::Unreachable { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| EtcdError::Endpoint(String::new())))
    }

    async fn call<R: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<R> {
        let (ep, incoming) = self.send(path, body).await?;
        read_body(&ep, incoming).await
    }

    /// The key `key`, if it exists.
    pub async fn get(&self, key: &str) -> Result<Range> {
        let range = json!({ "key": b64(key.as_bytes()) });
        self.call("/v3/kv/range", &range).await
    }

    /// Every key starting with `prefix`.
    pub async fn get_prefix(&self, prefix: &str) -> Result<Range> {
        self.call("/v3/kv/range", &prefix_range(prefix)).await
    }

    pub async fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<()> {
        let _: IgnoredAny = self.call("/v3/kv/put", &put(key, value, lease)).await?;
        Ok(())
    }

    /// Puts `value` under `key` only if the key was last written at
    /// `mod_revision` (0: does not exist); says whether it did.
    pub async fn put_if_unchanged(
        &self,
        key: &str,
        mod_revision: i64,
        value: &[u8],
        lease: i64,
    ) -> Result<bool> {
        let txn = json!({
            "compare": [{
                "key": b64(key.as_bytes()),
                "result": "EQUAL",
                "target": "MOD",
                "mod_revision": mod_revision.to_string(),
            }],
            "success": [{ "request_put": put(key, value, lease) }],
        });
        let r: TxnResponse = self.call("/v3/kv/txn", &txn).await?;
        Ok(r.succeeded)
    }

    /// A new lease of `ttl` seconds; its ID.
    pub async fn lease_grant(&self, ttl: i64) -> Result<i64> {
        #[derive(Deserialize)]
        struct Granted {
            #[serde(rename = "ID", default, deserialize_with = "int")]
            id: i64,
        }
        let grant = json!({ "TTL": ttl.to_string() });
        let g: Granted = self.call("/v3/lease/grant", &grant).await?;
        Ok(g.id)
    }

    /// Renews `lease`; the seconds it now has, 0 when it has expired.
    pub async fn lease_keep_alive(&self, lease: i64) -> Result<i64> {
        #[derive(Deserialize)]
        struct Alive {
            result: Option<Ttl>,
            error: Option<StreamError>,
        }
        #[derive(Deserialize)]
        struct Ttl {
            #[serde(rename = "TTL", default, deserialize_with = "int")]
            ttl: i64,
        }
        let a: Alive = self.call("/v3/lease/keepalive", &lease_id(lease)).await?;
        match (a.result, a.error) {
            (Some(t), _) => Ok(t.ttl),
            (None, Some(e)) => Err(e.into()),
            (None, None) => Ok(0),
        }
    }

    pub async fn lease_revoke(&self, lease: i64) -> Result<()> {
        let _: IgnoredAny = self.call("/v3/lease/revoke", &lease_id(lease)).await?;
        Ok(())
    }

    /// Watches every key under `prefix` from `start_revision` on.
    pub async fn watch_prefix(&self, prefix: &str, start_revision: i64) -> Result<Watch> {
        let mut range = prefix_range(prefix);
        range["start_revision"] = start_revision.to_string().into();
        let create = json!({ "create_request": range });
        let (endpoint, body) = self.send("/v3/watch", &create).await?;
        Ok(Watch {
            endpoint,
            body,
            pending: Vec::new(),
        })
    }
}

/// A whole (bounded) answer, decoded.
async fn read_body<R: DeserializeOwned>(ep: &Endpoint, incoming: Incoming) -> Result<R> {
    let bytes = tokio::time::timeout(
        REQUEST_TIMEOUT,
        Limited::new(incoming, MAX_ANSWER).collect(),
    )
    .await
    .map_err(|_| ep.unreachable("no answer in time"))?
    .map_err(|e| ep.bad_answer(e.to_string()))?
    .to_bytes();
    decode(ep, &bytes)
}

/// POSTs `body` (over TLS for an `https://` endpoint, with the auth
/// `token` if any) and waits for the answer's head; an answer other than
/// 200 becomes the error etcd gave.
async fn post(
    ep: &Endpoint,
    tls: Option<&tokio_rustls::TlsConnector>,
    token: Option<&str>,
    path: &str,
    body: Bytes,
) -> Result<Incoming> {
    let unreachable = |what: String| ep.unreachable(what);
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(&ep.authority),
    )
    .await
    .map_err(|_| unreachable("connect: timed out".into()))?
    .map_err(|e| unreachable(format!("connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", &ep.authority)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| unreachable(format!("request: {e}")))?;
    match (&ep.tls_name, tls) {
        (Some(name), Some(tls)) => {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name.clone(), stream))
                .await
                .map_err(|_| unreachable("TLS: timed out".into()))?
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
            exchange(ep, stream, req, path).await
        }
        (Some(_), None) => Err(EtcdError::NoTls(ep.url.clone())),
        (None, _) => exchange(ep, stream, req, path).await,
    }
}

/// One request and the head of its answer on a connected stream.
async fn exchange<S>(
    ep: &Endpoint,
    stream: S,
    req: Request<Full<Bytes>>,
    path: &str,
) -> Result<Incoming>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let unreachable = |what: String| ep.unreachable(what);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(format!("HTTP: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| unreachable("no answer in time".into()))?
        .map_err(|e| unreachable(format!("HTTP: {e}")))?;
    let status = resp.status();
    if status == StatusCode::OK {
        return Ok(resp.into_body());
    }
    let bytes = tokio::time::timeout(
        REQUEST_TIMEOUT,
        Limited::new(resp.into_body(), 64 << 10).collect(),
    )
    .await
    .ok()
    .and_then(|r| r.ok())
    .map(|c| c.to_bytes())
    .unwrap_or_default();
    if String::from_utf8_lossy(&bytes).contains("CommonName") {
        return Err(ep.bad_answer(
            "etcd's JSON gateway refuses a client certificate with a CommonName: give this host one without (e.g. openssl -subj /O=vepa/OU=HOST) for --etcd-cert; its etcd identity is --etcd-user",
        ));
    }
    Err(match serde_json::from_slice::<StreamError>(&bytes) {
        Ok(e) => e.into(),
        Err(_) => ep.bad_answer(format!(
            "HTTP {status} for {path}: {} (is this etcd 3.4 or newer?)",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).trim()
        )),
    })
}

fn decode<R: DeserializeOwned>(ep: &Endpoint, bytes: &[u8]) -> Result<R> {
    serde_json::from_slice(bytes).map_err(|e| ep.bad_answer(e.to_string()))
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The end of the range of keys starting with `prefix` (etcd's rule:
/// the prefix with its last byte below 0xff incremented).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): every key from the prefix on.
    vec![0]
}

/// A range over every key starting with `prefix`.
fn prefix_range(prefix: &str) -> Value {
    json!({
        "key": b64(prefix.as_bytes()),
        "range_end": b64(&prefix_end(prefix.as_bytes())),
    })
}

fn lease_id(lease: i64) -> Value {
    json!({ "ID": lease.to_string() })
}

fn put(key: &str, value: &[u8], lease: i64) -> Value {
    json!({
        "key": b64(key.as_bytes()),
        "value": b64(value),
        "lease": lease.to_string(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct Header {
    #[serde(default, deserialize_with = "int")]
    pub revision: i64,
}

#[derive(Debug, Deserialize)]
pub struct Range {
    #[serde(default)]
    pub header: Header,
    #[serde(default)]
    pub kvs: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct KeyValue {
    #[serde(deserialize_with = "bytes")]
    pub key: Vec<u8>,
    #[serde(default, deserialize_with = "bytes")]
    pub value: Vec<u8>,
    #[serde(default, deserialize_with = "int")]
    pub mod_revision: i64,
    #[serde(default, deserialize_with = "int")]
    pub create_revision: i64,
}

impl KeyValue {
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

#[derive(Deserialize)]
struct TxnResponse {
    #[serde(default)]
    succeeded: bool,
}

/// An error etcd reports, in an answer or a stream.
#[derive(Debug, Deserialize)]
struct StreamError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

impl From<StreamError> for EtcdError {
    fn from(e: StreamError) -> EtcdError {
        EtcdError::Refused {
            code: e.code,
            message: e.message,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EventType {
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "DELETE")]
    Delete,
}

#[derive(Debug, Deserialize)]
pub struct Event {
    #[serde(rename = "type", default = "put_event")]
    pub kind: EventType,
    pub kv: Option<KeyValue>,
}

fn put_event() -> EventType {
    EventType::Put
}

#[derive(Debug, Default, Deserialize)]
pub struct WatchResponse {
    #[serde(default)]
    pub canceled: bool,
    #[serde(default)]
    pub cancel_reason: String,
    #[serde(default, deserialize_with = "int")]
    pub compact_revision: i64,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// A watch's stream of answers.
pub struct Watch {
    endpoint: Endpoint,
    body: Incoming,
    pending: Vec<u8>,
}

impl Watch {
    /// The next answer; `None` when etcd closed the stream.
    pub async fn next(&mut self) -> Result<Option<WatchResponse>> {
        #[derive(Deserialize)]
        struct Line {
            result: Option<WatchResponse>,
            error: Option<StreamError>,
        }
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let l: Line = decode(&self.endpoint, &line)?;
                return match (l.result, l.error) {
                    (_, Some(e)) => Err(e.into()),
                    (Some(r), None) => Ok(Some(r)),
                    (None, None) => Ok(Some(WatchResponse::default())),
                };
            }
            if self.pending.len() > MAX_ANSWER {
                return Err(self
                    .endpoint
                    .bad_answer(format!("a watch answer over {MAX_ANSWER} bytes")));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(self.endpoint.unreachable(format!("watch: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// A 64-bit integer as the gateway writes it (a string) or as a number.
fn int<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        N(i64),
        S(String),
    }
    match Int::deserialize(d)? {
        Int::N(n) => Ok(n),
        Int::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    B64.decode(s.as_bytes()).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for (url, authority) in [
            ("http://10.0.0.9:2379", "10.0.0.9:2379"),
            ("http://10.0.0.9:2379/", "10.0.0.9:2379"),
            ("http://etcd", "etcd:2379"),
            ("http://[::1]:23790", "[::1]:23790"),
            ("http://[::1]", "[::1]:2379"),
        ] {
            assert_eq!(Endpoint::parse(url).unwrap().authority, authority, "{url}");
        }
        assert!(Endpoint::parse("https://10.0.0.9:2379")
            .unwrap()
            .tls_name
            .is_some());
        assert!(Endpoint::parse("http://10.0.0.9:2379")
            .unwrap()
            .tls_name
            .is_none());
        for bad in [
            "10.0.0.9:2379",
            "ftp://10.0.0.9:2379",
            "http://",
            "http://:2379",
            "http://h:99999",
            "http://h:2379/v3",
            "http://user@h:2379",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/vepa/hosts/"), b"/vepa/hosts0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
    }

    /// Answers as etcd 3.4's gateway writes them (captured from one).
    #[test]
    fn gateway_answers() {
        let r: Range = serde_json::from_str(
            r#"{"header":{"cluster_id":"3249","revision":"2","raft_term":"2"},"kvs":[{"key":"L3ZlcGEvaG9zdHMvYQ==","create_revision":"2","mod_revision":"2","version":"1","value":"eyJ4IjoxfQ==","lease":"23"}],"count":"1"}"#,
        )
        .unwrap();
        assert_eq!(r.header.revision, 2);
        assert_eq!(r.kvs[0].key_str(), Some("/vepa/hosts/a"));
        assert_eq!(r.kvs[0].value, br#"{"x":1}"#);
        assert_eq!(r.kvs[0].mod_revision, 2);
        let empty: Range = serde_json::from_str(r#"{"header":{"revision":"2"}}"#).unwrap();
        assert!(empty.kvs.is_empty());
        let w: WatchResponse = serde_json::from_str(
            r#"{"header":{"revision":"3"},"events":[{"kv":{"key":"YQ==","mod_revision":"2","value":"eA=="}},{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"3"}}]}"#,
        )
        .unwrap();
        assert_eq!(w.events[0].kind, EventType::Put);
        assert_eq!(w.events[1].kind, EventType::Delete);
        assert!(w.events[1].kv.as_ref().unwrap().value.is_empty());
        let c: WatchResponse =
            serde_json::from_str(r#"{"header":{},"canceled":true,"compact_revision":"5"}"#)
                .unwrap();
        assert!(c.canceled && c.compact_revision == 5);
        assert!(serde_json::from_str::<KeyValue>(r#"{"key":"not base64!"}"#).is_err());
    }
}
