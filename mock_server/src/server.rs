//! Serving the mock on a socket: the accept loop (plain TCP or TLS), each
//! connection's [`ConnControl`] through which a fault closes it without an
//! answer, graceful shutdown, and the TLS configuration from PEM files.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::Request;
use mss_contract::Contract;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::config::MockConfig;
use crate::state::{Mock, MockError};

/// A TLS server configuration from PEM files: the certificate chain and its
/// private key.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("certificate: no PEM certificate in it".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => "key: no PEM private key in it".to_owned(),
        e => format!("key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve the mock of `contract` with `config` on `listener` until the
/// process ends.
pub async fn serve(
    listener: TcpListener,
    config: MockConfig,
    contract: Arc<Contract>,
) -> Result<(), MockError> {
    Mock::new(config, contract)?.serve(listener).await?;
    Ok(())
}

/// A connection's handle, in every request's extensions when the mock serves
/// a socket: a fault closes the connection through it without an answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnControl(Arc<ConnShared>);

#[derive(Debug, Default)]
struct ConnShared {
    notify: tokio::sync::Notify,
    reset: AtomicBool,
}

impl ConnControl {
    /// Close the connection: with a reset (RST) or a plain close (FIN).
    pub(crate) fn close(&self, reset: bool) {
        self.0.reset.store(reset, Ordering::Relaxed);
        self.0.notify.notify_one();
    }

    /// Resolves when a fault closes the connection: whether with a reset.
    async fn closed(&self) -> bool {
        self.0.notify.notified().await;
        self.0.reset.load(Ordering::Relaxed)
    }
}

impl Mock {
    /// Serve on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serve on `listener` until `shutdown` completes, then finish the requests
    /// in flight.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_connections(listener, None, shutdown).await
    }

    /// Serve HTTPS on `listener` with `tls` until `shutdown` completes: the
    /// same routes behind a TLS handshake (for tests of certificate handling
    /// and for rehearsing against a mock that looks like the ministry's).
    pub async fn serve_tls(
        self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_connections(
            listener,
            Some(tokio_rustls::TlsAcceptor::from(tls)),
            shutdown,
        )
        .await
    }

    /// The accept loop: every connection gets a [`ConnControl`] in its
    /// requests' extensions, through which a fault can close it (with a FIN or
    /// a reset) without an answer; on `shutdown`, stop accepting and let the
    /// requests in flight finish.
    async fn serve_connections(
        self,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use tower::ServiceExt as _;
        let app = self.app();
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    // Out of descriptors or a connection aborted before accept:
                    // keep serving the others.
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            // A second descriptor of the socket: once the connection is dropped,
            // closing this one (with SO_LINGER 0 for a reset) is what the peer sees.
            let Ok(dup) = socket2::SockRef::from(&tcp).try_clone() else {
                continue;
            };
            let control = ConnControl::default();
            let app = app.clone();
            let watcher = graceful.watcher();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = {
                    let control = control.clone();
                    hyper_util::service::TowerToHyperService::new(app.map_request(
                        move |req: Request<hyper::body::Incoming>| {
                            let mut req = req.map(Body::new);
                            req.extensions_mut().insert(control.clone());
                            req
                        },
                    ))
                };
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let reset = match tls {
                    None => {
                        let conn =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                        tokio::select! {
                            _ = watcher.watch(conn) => None,
                            reset = control.closed() => Some(reset),
                        }
                    }
                    Some(acceptor) => {
                        // A client that fails the handshake (it does not trust
                        // us) is simply dropped, as any TLS server does.
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let conn =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                        tokio::select! {
                            _ = watcher.watch(conn) => None,
                            reset = control.closed() => Some(reset),
                        }
                    }
                };
                if reset == Some(true) {
                    let _ = dup.set_linger(Some(std::time::Duration::ZERO));
                }
                drop(dup);
            });
        }
        drop(listener);
        // A request held by a `hang` fault would hold the shutdown: bounded.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
        Ok(())
    }
}
