//! Where a run's load goes: the embedded mock, served from a thread and
//! runtime of its own ([`MockThread`], shared with `conform`), or a URL
//! admitted by the production guards ([`guard`]) and made ready ([`url`]);
//! and what a target on this machine stored ([`records`]).

pub mod embedded;
pub mod guard;
mod mock_thread;
pub mod records;
pub mod url;

pub use mock_thread::MockThread;

use anyhow::Context;

use crate::connect::ConnectArgs;
use crate::engine::Target;
use crate::scenario::{RunPlan, TargetPlan};
use crate::token::TokenPolicy;

/// A run's target, resolved and ready for the load.
#[derive(Debug)]
pub struct Resolved {
    /// Where the load goes.
    pub target: Target,
    /// The client every request goes through.
    pub http: reqwest::Client,
    /// The embedded mock behind the target (`None`: a URL); dropping it stops
    /// the mock.
    pub mock: Option<MockThread>,
    /// How the results name the target: `mock (embedded)` or the base URL.
    pub label: String,
}

/// The token policy of `plan`.
pub fn policy(plan: &RunPlan) -> TokenPolicy {
    TokenPolicy {
        margin: plan.token.refresh_margin,
        jitter: plan.token.refresh_jitter,
        timeout: plan.http.timeout,
        ..TokenPolicy::default()
    }
}

/// Resolve `plan`'s target: start the embedded mock, or admit and prepare the
/// URL (`connect`: TLS and address overrides; `confirm_production`:
/// `--confirm-production`). Errors are usage errors; nothing was sent.
pub async fn resolve(
    plan: &RunPlan,
    connect: &ConnectArgs,
    confirm_production: Option<&str>,
) -> anyhow::Result<Resolved> {
    let policy = policy(plan);
    match &plan.target {
        TargetPlan::Mock(settings) => {
            let http = reqwest::Client::builder()
                .connect_timeout(plan.http.connect_timeout)
                .pool_max_idle_per_host(usize::MAX)
                .no_proxy()
                .build()
                .context("cannot build the HTTP client")?;
            let (target, mock) = embedded::start(plan, settings, &http, policy)?;
            Ok(Resolved {
                target,
                http,
                mock: Some(mock),
                label: "mock (embedded)".to_owned(),
            })
        }
        TargetPlan::Url(u) => {
            let ready = url::prepare(plan, u, connect, confirm_production, policy).await?;
            Ok(Resolved {
                target: ready.target,
                http: ready.http,
                mock: None,
                label: ready.base,
            })
        }
    }
}
