//! The CLI's side of the API: HTTP/1.1 over the daemon's unix socket, or
//! over TCP with a bearer token (hyper, one connection per command).

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
use vepa_api::wire::ErrorBody;

/// The default socket (`--socket`, or VEPA_SOCKET).
pub const DEFAULT_SOCKET: &str = "/run/vepa/vepa.sock";

pub enum Target {
    Unix(PathBuf),
    /// host:port, with the token to send.
    Tcp(String, String),
}

pub struct Client {
    target: Target,
    rt: tokio::runtime::Runtime,
}

type Conn = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

impl Client {
    pub fn new(target: Target) -> Result<Client> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the client runtime")?;
        Ok(Client { target, rt })
    }

    fn where_(&self) -> String {
        match &self.target {
            Target::Unix(p) => p.display().to_string(),
            Target::Tcp(a, _) => format!("http://{a}"),
        }
    }

    async fn connect(&self) -> Result<Conn> {
        let hint = "is `vepa daemon` running? --socket (or VEPA_SOCKET) picks another socket";
        let sender = match &self.target {
            Target::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await.map_err(|e| match e.kind() {
                    std::io::ErrorKind::PermissionDenied => anyhow!(
                        "cannot connect to {}: permission denied; the socket is for root and the daemon's --group (ask to be added to that group)",
                        p.display()
                    ),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        Unreachable(format!("cannot reach the vepa daemon at {}: {e} ({hint})", p.display())).into()
                    }
                    _ => anyhow!("cannot connect to {}: {e}", p.display()),
                })?;
                handshake(s).await?
            }
            Target::Tcp(addr, _) => {
                let s = tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                    Unreachable(format!(
                        "cannot reach the vepa daemon at http://{addr}: {e}"
                    ))
                })?;
                handshake(s).await?
            }
        };
        Ok(sender)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "vepa");
        if let Target::Tcp(_, token) = &self.target {
            b = b.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(bytes) => b
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(bytes))),
            None => b.body(Full::new(Bytes::new())),
        };
        req.context("build request")
    }

    /// Sends a request; an answer other than 2xx becomes an error with the daemon's words.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let req = self.request(method, path, body)?;
        self.rt.block_on(async {
            let mut conn = self.connect().await?;
            let resp = conn
                .send_request(req)
                .await
                .with_context(|| format!("request to {}", self.where_()))?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            if !status.is_success() {
                return Err(api_error(status, &bytes));
            }
            serde_json::from_slice(&bytes)
                .with_context(|| format!("unexpected answer from {}", self.where_()))
        })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None::<&()>)
    }

    /// Streams an answer's body to `sink` until it ends or `sink` says
    /// stop (a request with a method and, optionally, a JSON body).
    pub fn stream_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        mut sink: impl FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let req = self.request(method, path, body)?;
        self.rt.block_on(async {
            let mut conn = self.connect().await?;
            let resp = conn.send_request(req).await?;
            let status = resp.status();
            let mut body = resp.into_body();
            if !status.is_success() {
                let bytes = body.collect().await?.to_bytes();
                return Err(api_error(status, &bytes));
            }
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    if !sink(&data)? {
                        break;
                    }
                }
            }
            Ok(())
        })
    }
}

async fn handshake<S>(s: S) -> Result<Conn>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .context("HTTP handshake with the daemon")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The daemon answered, and refused: its words, and the status that
/// decides the CLI's exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub status: StatusCode,
    pub message: String,
}

/// The daemon could not be reached at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

fn api_error(status: StatusCode, bytes: &[u8]) -> anyhow::Error {
    let message = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(e) => match e.field {
            Some(f) => format!("{} ({status}, field '{f}')", e.error),
            None => format!("{} ({status})", e.error),
        },
        Err(_) => format!(
            "daemon answered {status}: {}",
            String::from_utf8_lossy(bytes)
        ),
    };
    Refused { status, message }.into()
}

/// Where the CLI talks to: `--url` (with a token file) or the socket.
pub fn target(
    socket: Option<PathBuf>,
    url: Option<String>,
    token_file: Option<PathBuf>,
) -> Result<Target> {
    match url {
        Some(u) => {
            let addr = u
                .strip_prefix("http://")
                .unwrap_or(&u)
                .trim_end_matches('/')
                .to_string();
            let Some(f) = token_file else {
                bail!("--url needs --token-file: the TCP API asks for a bearer token");
            };
            let token = std::fs::read_to_string(&f)
                .with_context(|| format!("--token-file: cannot read {}", f.display()))?;
            Ok(Target::Tcp(addr, token.trim().to_string()))
        }
        None => Ok(Target::Unix(socket.unwrap_or_else(|| {
            std::env::var_os("VEPA_SOCKET")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
        }))),
    }
}
