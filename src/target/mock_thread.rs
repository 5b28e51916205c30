//! An embedded mock Ministry served on a thread of its own, with its own
//! Tokio runtime: the load generator's worker threads send, the mock's thread
//! answers, and neither waits for the other's tasks. `run` and `conform`
//! start their embedded mocks this way.

use std::thread::JoinHandle;

use anyhow::Context;
use tokio::sync::oneshot;

/// A mock serving on 127.0.0.1 from its own thread, until this handle is
/// dropped (then it finishes the requests in flight and its thread ends).
#[derive(Debug)]
pub struct MockThread {
    /// The mock, to read its records and stats and to set faults.
    pub mock: mss_mock::Mock,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockThread {
    /// Serve `mock` on a free port of 127.0.0.1, from a new thread.
    pub fn start(mock: mss_mock::Mock) -> anyhow::Result<MockThread> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot bind the embedded mock on 127.0.0.1")?;
        listener
            .set_nonblocking(true)
            .context("cannot bind the embedded mock on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the embedded mock's runtime")?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = mock.clone();
        let thread = std::thread::Builder::new()
            .name("mss-mock".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("embedded mock: {e}");
                            return;
                        }
                    };
                    // A dropped sender stops the mock as a sent signal does.
                    let stop = async move {
                        let _ = stop.await;
                    };
                    if let Err(e) = served.serve_with_shutdown(listener, stop).await {
                        eprintln!("embedded mock: {e}");
                    }
                });
            })
            .context("cannot start the embedded mock's thread")?;
        Ok(MockThread {
            mock,
            base_url: format!("http://{addr}"),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Keep the mock serving for as long as the calling Tokio runtime runs
    /// (as a task of that runtime would), and give up the handle.
    pub fn serve_while_this_runtime_runs(mut self) -> (mss_mock::Mock, String) {
        if let Some(shutdown) = self.shutdown.take() {
            tokio::spawn(async move {
                let _keep = shutdown;
                std::future::pending::<()>().await;
            });
        }
        // Not joined: the thread ends by itself when the mock stops.
        drop(self.thread.take());
        (self.mock.clone(), self.base_url.clone())
    }
}

impl Drop for MockThread {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Not joined: requests still in flight finish on the mock's thread,
        // which then ends; the caller need not wait for them.
        drop(self.thread.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mock_serves_from_its_own_thread_until_dropped() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let contract = mss_contract::Contract::embedded();
        let config = mss_mock::MockConfig::demo(contract).expect("demo configuration");
        let mock = mss_mock::Mock::new(config, contract.clone()).expect("mock");
        let server = MockThread::start(mock).expect("start");
        let url = format!("{}/__admin/stats", server.base_url);
        // Nothing of the mock runs on this runtime: it answers all the same.
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .get(&url)
                .send()
                .await
                .map(|r| r.status())
        });
        assert!(status.expect("answered").is_success());
        drop(server);
        let refused = runtime.block_on(async {
            for _ in 0..100 {
                if reqwest::Client::new().get(&url).send().await.is_err() {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            false
        });
        assert!(
            refused,
            "the mock still answers after its handle was dropped"
        );
    }
}
