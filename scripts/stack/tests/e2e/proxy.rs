//! A TCP proxy in front of the emulator that the suite can switch off: the functions reach SQS
//! through it, so "the queue is unreachable" is one flag, with nothing restarted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Self {
            addr: listener.local_addr()?,
            up: Arc::new(AtomicBool::new(true)),
            refused: Arc::new(AtomicUsize::new(0)),
        };
        let (up, refused) = (proxy.up.clone(), proxy.refused.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    // Down: the connection closes at once, as a refused one would fail.
                    drop(client);
                    refused.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Ok(proxy)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Connections turned away while down: proof that a client really tried to get through.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}
