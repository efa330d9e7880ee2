//! Telling the service manager where the daemon is (sd_notify, for a
//! `Type=notify` unit): READY=1 only after the API socket has answered a
//! request of the daemon's own, STOPPING=1 when it begins to stop. Without
//! NOTIFY_SOCKET (not under systemd) nothing is sent.

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use sd_notify::NotifyState;
use std::path::Path;
use std::time::{Duration, Instant};

/// Waits (up to 30 s) until a GET on the API socket gets a 200.
pub async fn wait_answering(socket: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout(Duration::from_secs(2), ask(socket)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) if Instant::now() >= deadline => {
                return Err(e.context(format!("{} never answered", socket.display())))
            }
            Err(_) if Instant::now() >= deadline => {
                bail!("{} never answered", socket.display())
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn ask(socket: &Path) -> Result<()> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .context("connect")?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get("/v1/switches")
        .header("host", "vepa")
        .body(Empty::<Bytes>::new())
        .context("request")?;
    let resp = sender.send_request(req).await.context("request")?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    if !status.is_success() {
        bail!("answered {status}");
    }
    Ok(())
}

pub fn notify_ready(socket: &Path) {
    let status = format!("serving on {}", socket.display());
    match sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(&status)]) {
        Ok(()) => tracing::info!("told systemd the daemon is ready"),
        Err(e) => tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)"),
    }
}

pub fn notify_stopping() {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
    }
}
