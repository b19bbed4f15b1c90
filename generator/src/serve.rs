//! The local preview server of `kiln serve`: the output folder over HTTP, with live reload.
//!
//! Files come from the output folder through tower-http's `ServeDir`; a path with no file gets
//! the site's `404.html` with status 404. Every HTML response gets a small script before its
//! `</body>` that listens on [`RELOAD_PATH`] (server-sent events) and reloads the page when a
//! rebuild has written something. The script is added to responses only: the files on disk
//! stay exactly what `kiln build` would write for the same base URL. Responses are sent with
//! `Cache-Control: no-store`, so a reload always shows the newest build.
//!
//! This server is for previewing on one's own machine; it is not hardened for the internet.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast;
use tower_http::services::{ServeDir, ServeFile};

/// Where pages listen for reloads (server-sent events).
pub const RELOAD_PATH: &str = "/__kiln/livereload";

/// The script added to every HTML response. It reloads on a `reload` event, and also when it
/// reconnects (the server restarted, or the connection dropped) and finds that a build
/// happened in the meantime. The event source is `window.__kilnLiveReload`, for tests.
pub const RELOAD_SCRIPT: &str = concat!(
    "<script>/* kiln serve: live reload */(function(){",
    "var seen,source=new EventSource(\"/__kiln/livereload\");window.__kilnLiveReload=source;",
    "source.addEventListener(\"hello\",function(e){",
    "if(seen!==undefined&&seen!==e.data){location.reload()}seen=e.data});",
    "source.addEventListener(\"reload\",function(){location.reload()});",
    "})();</script>"
);

/// HTML larger than this is served without the script rather than held in memory.
const MAX_INJECTED_BYTES: usize = 64 * 1024 * 1024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Something else listens on the address.
    #[error(
        "cannot listen on {addr}: the port is already in use (is another `kiln serve` running?); \
         choose another one with --port"
    )]
    PortInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Any other reason the address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Binds `addr` for [`serve`]. Port 0 picks a free port; ask the listener which one.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            ServeError::PortInUse { addr }
        } else {
            ServeError::Bind { addr, source }
        }
    })?;
    listener.set_nonblocking(true).map_err(|source| ServeError::Bind { addr, source })?;
    Ok(listener)
}

/// The base URL of a site served at `addr`, e.g. `http://127.0.0.1:1111`. An unspecified
/// address (`0.0.0.0`, `::`) is reached through loopback.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Tells open pages to reload. Cheap to clone; every clone talks to the same pages.
#[derive(Clone)]
pub struct LiveReload {
    sender: broadcast::Sender<()>,
    /// Differs between server processes, so that a page that reconnects to a new server
    /// reloads.
    session: Arc<str>,
    builds: Arc<AtomicU64>,
}

impl Default for LiveReload {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveReload {
    /// A channel with no pages listening yet.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(16);
        let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let session = format!("{:x}", started.as_nanos()).into();
        Self { sender, session, builds: Arc::default() }
    }

    /// Makes every open page reload.
    pub fn reload(&self) {
        self.builds.fetch_add(1, Ordering::SeqCst);
        // No receiver means no page is open: nothing to do.
        let _ = self.sender.send(());
    }

    /// Names the current build, for pages to compare after reconnecting.
    fn tag(&self) -> String {
        format!("{}-{}", self.session, self.builds.load(Ordering::SeqCst))
    }
}

/// The routes of the preview server for the output folder `output`.
pub fn router(output: &Path, reload: LiveReload) -> Router {
    let files = ServeDir::new(output)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(output.join("404.html")));
    Router::new()
        .route(RELOAD_PATH, get(events))
        .with_state(reload)
        .fallback_service(files)
        .layer(middleware::from_fn(inject_script))
}

/// Serves `router` on `listener` (from [`bind`]) until the process ends.
pub async fn serve(listener: std::net::TcpListener, router: Router) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    axum::serve(listener, router).await
}

async fn events(
    State(reload): State<LiveReload>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let hello = Event::default().event("hello").data(reload.tag());
    let receiver = reload.sender.subscribe();
    let stream = futures_util::stream::unfold(
        (Some(hello), receiver, reload),
        |(hello, mut receiver, reload)| async move {
            if let Some(hello) = hello {
                return Some((Ok(hello), (None, receiver, reload)));
            }
            match receiver.recv().await {
                // Lagging behind means more builds happened: one reload covers them all.
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let event = Event::default().event("reload").data(reload.tag());
                    Some((Ok(event), (None, receiver, reload)))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Adds [`RELOAD_SCRIPT`] to HTML responses and forbids caching of every response.
async fn inject_script(request: Request, next: Next) -> Response {
    let head = request.method() == Method::HEAD;
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let html = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let full = matches!(parts.status, StatusCode::OK | StatusCode::NOT_FOUND);
    if !html || !full {
        return Response::from_parts(parts, body);
    }
    if head {
        // The length a GET would send, script included.
        let length = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        if let Some(length) = length.map(|n: usize| n + RELOAD_SCRIPT.len()) {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_INJECTED_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!("cannot read a page to add the live-reload script: {err}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(ACCEPT_RANGES);
    Response::from_parts(parts, Body::from(with_script(&bytes)))
}

/// `html` with [`RELOAD_SCRIPT`] before its last `</body>`, or at the end if it has none.
pub fn with_script(html: &[u8]) -> Vec<u8> {
    let at = html.windows(6).rposition(|w| w.eq_ignore_ascii_case(b"</body")).unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + RELOAD_SCRIPT.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(RELOAD_SCRIPT.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_goes_before_the_last_closing_body_tag() {
        let html = b"<html><body><p>\"</body>\" in text</p></BODY></html>";
        let out = String::from_utf8(with_script(html)).unwrap();
        assert!(out.ends_with(&format!("{RELOAD_SCRIPT}</BODY></html>")), "{out}");
        assert!(String::from_utf8(with_script(b"<p>bare")).unwrap().ends_with(RELOAD_SCRIPT));
    }

    #[test]
    fn unspecified_addresses_are_reached_through_loopback() {
        assert_eq!(local_url("0.0.0.0:1111".parse().unwrap()), "http://127.0.0.1:1111");
        assert_eq!(local_url("[::]:8080".parse().unwrap()), "http://[::1]:8080");
        assert_eq!(local_url("192.168.1.5:80".parse().unwrap()), "http://192.168.1.5:80");
    }
}
