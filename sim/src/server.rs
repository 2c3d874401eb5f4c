//! Listener and per-connection request loop.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

use crate::http::{Conn, ReadError};
use crate::routes::{self, Delivery, Outcome};
use crate::state::Shared;

/// Binds 127.0.0.1:`port` (loopback only) with a generous backlog. Must run inside a runtime.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(1024)
}

/// Accepts connections until `stop` fires (or its sender is dropped).
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    match tls.clone() {
                        None => {
                            tokio::spawn(serve_connection(shared, Conn::new(stream)));
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                // A failed handshake (a plain-HTTP client, an untrusted
                                // certificate) just ends the connection.
                                if let Ok(s) = acceptor.accept(stream).await {
                                    serve_connection(shared, Conn::new(s)).await;
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    // Typically EMFILE under load: back off briefly instead of spinning.
                    eprintln!("cxoauth-sim: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

/// Serves requests on one connection until it closes (keep-alive loop).
async fn serve_connection(shared: Arc<Shared>, mut conn: Conn) {
    // Counted on its first non-admin request, so the admin API's own connections do not
    // disturb tests of the client's connection reuse.
    let mut counted = false;
    // Open client connections (a gauge): counted with `counted`, uncounted when this ends.
    struct Open<'a>(&'a Shared, bool);
    impl Drop for Open<'_> {
        fn drop(&mut self) {
            if self.1 {
                self.0.connection_open(false);
            }
        }
    }
    let mut open = Open(&shared, false);
    loop {
        let read = match shared.keep_alive_idle() {
            None => conn.read_request().await,
            Some(idle) => match tokio::time::timeout(idle, conn.read_request()).await {
                Ok(r) => r,
                Err(_) => {
                    // Idle too long: closed, as a server or load balancer does.
                    if counted {
                        shared.count_idle_close();
                    }
                    conn.close().await;
                    return;
                }
            },
        };
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadError::Io) => return,
            Err(e) => {
                if let Some(resp) = e.response() {
                    let _ = conn.write_all(&resp.encode(false, true)).await;
                }
                conn.close().await;
                return;
            }
        };
        let close = req.wants_close();
        if !counted && !req.path.starts_with("/__admin/") {
            counted = true;
            shared.count_connection();
            shared.connection_open(true);
            open.1 = true;
        }
        match routes::handle(&shared, &req).await {
            Outcome::Respond(resp, delivery) => {
                let bytes = resp.encode(req.is_head(), close);
                let written = match delivery {
                    Delivery::Whole => conn.write_all(&bytes).await,
                    Delivery::Trickle {
                        bytes_per_interval,
                        interval,
                    } => {
                        conn.write_trickle(&bytes, bytes_per_interval, interval)
                            .await
                    }
                };
                if written.is_err() {
                    return;
                }
                if close {
                    conn.close().await;
                    return;
                }
            }
            Outcome::Drop => {
                conn.close().await;
                return;
            }
            Outcome::DropMidBody(resp) => {
                // No "Connection: close": the peer must see a truncated body, not a clean end.
                let _ = conn.write_all(&resp.encode(false, false)).await;
                conn.close().await;
                return;
            }
        }
    }
}
