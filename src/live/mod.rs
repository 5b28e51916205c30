//! Watching a run live: `run --dashboard[=ADDR]` serves, while the run lasts
//! and for `--dashboard-linger` after it,
//! - `/`: a page in `report.html`'s look, updated once a second by
//!   server-sent events (`/events`); its script and style are in the binary;
//! - `/metrics`: the run's counters and histograms in the OpenMetrics text
//!   format (see [`exposition`]), for a Prometheus server to scrape;
//! - `/snapshot.json`: the latest frame, as the page gets it.
//!
//! Once a second a ticker builds a [`frame::Frame`] from what the run's
//! metrics already aggregate per second; every page and every scrape reads
//! that frame. Nothing runs on a request's path, and a browser that comes and
//! goes touches only its own event stream.

pub mod exposition;
pub mod frame;
pub mod phases;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

use crate::engine::RunContext;
use crate::scenario::RunPlan;
use frame::{Builder, Frame, Phase};

/// The dashboard's address when `--dashboard` names none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:0";

/// Flags of `run` for the live dashboard.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DashboardArgs {
    /// Serve a live dashboard and Prometheus `/metrics` while the run lasts,
    /// on ADDR (`--dashboard=0.0.0.0:9464`; alone: 127.0.0.1 on a free port).
    /// The address is printed at the start.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true, default_missing_value = DEFAULT_ADDR)]
    pub dashboard: Option<String>,
    /// Keep the dashboard up this long after the run (a last look, the last
    /// Prometheus scrape).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "dashboard")]
    pub dashboard_linger: Option<Duration>,
    /// Let --dashboard listen on an address other than loopback: whoever
    /// reaches it sees the run's metadata and metrics.
    #[arg(long, requires = "dashboard")]
    pub dashboard_remote: bool,
}

/// Why the dashboard cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// ADDR is not `IP:PORT`.
    #[error("--dashboard {0:?}: not an address (IP:PORT, e.g. 127.0.0.1:9464)")]
    Address(String),
    /// ADDR is not loopback and `--dashboard-remote` was not given.
    #[error(
        "--dashboard {0}: not a loopback address; the dashboard shows the run to whoever reaches it: add --dashboard-remote to serve it there"
    )]
    NotLoopback(SocketAddr),
    /// ADDR cannot be listened on (in use, not ours).
    #[error("--dashboard {0}: cannot listen: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// A listening socket for the dashboard, bound before the run starts.
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    linger: Duration,
}

/// `--dashboard ADDR` written with a space, as most flags are: the flag's
/// value is optional (`--dashboard` alone serves on a free port), so clap
/// cannot tell `--dashboard 127.0.0.1:9000` from `--dashboard SCENARIO`. A
/// word after `--dashboard` that is an address (`IP:PORT`, which no scenario
/// name or file is) is joined to it as `--dashboard=ADDR`; anything else is
/// left as it was.
pub fn join_address(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        let address = it
            .peek()
            .and_then(|next| next.to_str())
            .filter(|next| next.trim().parse::<SocketAddr>().is_ok())
            .map(str::to_owned);
        match address {
            Some(addr) if a == "--dashboard" => {
                it.next();
                out.push(format!("--dashboard={addr}").into());
            }
            _ => out.push(a),
        }
    }
    out
}

/// Bind the dashboard's address (`None` without `--dashboard`): a
/// non-loopback address needs `--dashboard-remote`.
pub fn bind(args: &DashboardArgs) -> Result<Option<Bound>, LiveError> {
    let Some(spec) = &args.dashboard else {
        return Ok(None);
    };
    let addr: SocketAddr = spec
        .trim()
        .parse()
        .map_err(|_| LiveError::Address(spec.clone()))?;
    if !addr.ip().is_loopback() && !args.dashboard_remote {
        return Err(LiveError::NotLoopback(addr));
    }
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| LiveError::Listen(addr, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LiveError::Listen(addr, e))?;
    Ok(Some(Bound {
        listener,
        addr,
        linger: args.dashboard_linger.unwrap_or_default(),
    }))
}

#[derive(Debug)]
struct Shared {
    frames: watch::Receiver<Frame>,
}

/// A running dashboard: its server, and the run it shows once attached.
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    linger: Duration,
    frames: Mutex<Option<watch::Sender<Frame>>>,
    builder: Arc<Mutex<Option<Builder>>>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Bound {
    /// Serve on the bound socket (inside a Tokio runtime); prints the address.
    pub fn serve(self) -> std::io::Result<Arc<Dashboard>> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let (tx, rx) = watch::channel(Frame::waiting());
        let app = router(Arc::new(Shared { frames: rx }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        eprintln!(
            "dashboard: http://{}/ (Prometheus metrics at /metrics)",
            self.addr
        );
        Ok(Arc::new(Dashboard {
            addr: self.addr,
            linger: self.linger,
            frames: Mutex::new(Some(tx)),
            builder: Arc::new(Mutex::new(None)),
            ticker: Mutex::new(None),
        }))
    }
}

impl Dashboard {
    /// Serve a dashboard on `addr` (tests; the command line binds first with
    /// [`bind`]).
    pub fn start(addr: &str, linger: Duration) -> Result<Arc<Dashboard>, LiveError> {
        let args = DashboardArgs {
            dashboard: Some(addr.to_owned()),
            dashboard_linger: Some(linger),
            dashboard_remote: false,
        };
        let bound = bind(&args)?.ok_or_else(|| LiveError::Address(addr.to_owned()))?;
        let at = bound.addr;
        bound.serve().map_err(|e| LiveError::Listen(at, e))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn publish(&self, frame: Frame) {
        if let Some(tx) = lock(&self.frames).as_ref() {
            tx.send_replace(frame);
        }
    }

    /// Show the run of `ctx` (results folder `run_id`, target `target`): a
    /// frame now and once a second from here on.
    pub fn attach(
        self: &Arc<Self>,
        ctx: Arc<RunContext>,
        scenario: &RunPlan,
        run_id: &str,
        target: &str,
    ) {
        let mut builder = Builder::new(ctx.clone(), scenario, run_id, target);
        self.publish(builder.frame(Phase::Waiting));
        *lock(&self.builder) = Some(builder);
        let me = self.clone();
        let ticker = tokio::spawn(async move {
            // Until the load starts (Goose starts its users first).
            let start = loop {
                if let Some(s) = ctx.started() {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            // A moment after each second closes (the harvester closes them on
            // the second).
            let mut tick = tokio::time::interval_at(
                start + Duration::from_millis(200),
                Duration::from_secs(1),
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let frame = lock(&me.builder).as_mut().map(|b| b.frame(Phase::Running));
                if let Some(f) = frame {
                    me.publish(f);
                }
            }
        });
        *lock(&self.ticker) = Some(ticker);
    }

    /// The run is over and its results written: the last frame (the run's
    /// final totals, as in `summary.json`), up for `--dashboard-linger` (cut
    /// short by a stop signal), then the event streams end.
    pub async fn finish(&self) {
        if let Some(t) = lock(&self.ticker).take() {
            t.abort();
        }
        let frame = lock(&self.builder)
            .as_mut()
            .map(|b| b.frame(Phase::Finished));
        if let Some(f) = frame {
            self.publish(f);
        }
        if !self.linger.is_zero() {
            eprintln!(
                "dashboard: http://{}/ stays up for {}",
                self.addr,
                humantime::format_duration(self.linger)
            );
            // Ctrl-C or SIGTERM (or a run they stopped) ends it early.
            tokio::select! {
                () = tokio::time::sleep(self.linger) => {}
                _ = crate::interrupt::first() => {}
            }
        }
        // Dropping the sender ends every page's event stream.
        lock(&self.frames).take();
    }
}

/// The page: `dashboard.html` with `report.html`'s style.
fn page() -> String {
    const REPORT: &str = include_str!("../report/report.html.j2");
    let style = REPORT
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map_or("", |(style, _)| style);
    include_str!("dashboard.html").replace("/*REPORT_STYLE*/", style)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(page()) }))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .route("/snapshot.json", get(snapshot))
        .with_state(shared)
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.frames.clone();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let json = rx.borrow_and_update().json.clone();
        Some((Ok(Event::default().data(&*json)), (rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    let json = shared.frames.borrow().json.clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.to_string(),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let frame = shared.frames.borrow().clone();
    match exposition::encode(&frame) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(exposition::CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(addr: &str, remote: bool) -> DashboardArgs {
        DashboardArgs {
            dashboard: Some(addr.to_owned()),
            dashboard_linger: None,
            dashboard_remote: remote,
        }
    }

    #[test]
    fn a_remote_address_needs_saying_so_and_a_bad_one_is_named() {
        let e = bind(&args("0.0.0.0:0", false)).expect_err("not loopback");
        assert!(e.to_string().contains("--dashboard 0.0.0.0:0"), "{e}");
        assert!(e.to_string().contains("--dashboard-remote"), "{e}");
        let e = bind(&args("dashboard.example:80", false)).expect_err("not an address");
        assert!(e.to_string().contains("dashboard.example:80"), "{e}");
        // Tests bind only 127.0.0.1: a bind with --dashboard-remote on another
        // address is not exercised here.
        assert!(bind(&DashboardArgs::default()).expect("off").is_none());
    }

    #[test]
    fn an_address_after_a_space_is_the_flags_and_nothing_else_is() {
        let joined = |args: &[&str]| -> Vec<String> {
            join_address(args.iter().map(Into::into).collect())
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            joined(&[
                "mss-harness",
                "run",
                "--dashboard",
                "127.0.0.1:9000",
                "smoke"
            ]),
            ["mss-harness", "run", "--dashboard=127.0.0.1:9000", "smoke"]
        );
        assert_eq!(
            joined(&["run", "smoke", "--dashboard", "[::1]:0"]),
            ["run", "smoke", "--dashboard=[::1]:0"]
        );
        // Alone, or before a scenario or another flag: as written.
        for args in [
            &["run", "--dashboard", "smoke"][..],
            &["run", "--dashboard", "--dashboard-linger", "5s"],
            &["run", "smoke", "--dashboard"],
            &["run", "--dashboard", "scenarios/127.0.0.1:9000.toml"],
        ] {
            assert_eq!(joined(args), args);
        }
    }

    #[test]
    fn an_address_in_use_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr").to_string();
        let e = bind(&args(&addr, false)).expect_err("in use");
        assert!(
            e.to_string()
                .contains(&format!("--dashboard {addr}: cannot listen")),
            "{e}"
        );
    }

    #[test]
    fn the_page_carries_the_reports_style_and_no_remote_asset() {
        let html = page();
        assert!(!html.contains("/*REPORT_STYLE*/"));
        assert!(
            html.contains("header { background: #1d2330"),
            "the report's style"
        );
        // Nothing fetched but the server's own paths (the SVG namespace is a
        // name, not a fetch).
        for fetch in ["<link", "src=", "@import", "url(", "https:"] {
            assert!(!html.contains(fetch), "{fetch} in the page");
        }
    }
}
