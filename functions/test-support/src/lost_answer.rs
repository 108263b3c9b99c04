//! A loopback proxy in front of an endpoint that loses the answer to the first request it
//! forwards: the request reaches the server (a write lands), the client sees its connection
//! closed with no answer and its SDK tries again. No emulator loses an answer on its own.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The proxy's URL, and how many connections it has taken so far.
pub fn lost_first_answer(upstream: &str) -> (String, Arc<AtomicUsize>) {
    let upstream = upstream
        .strip_prefix("http://")
        .expect("a plain-HTTP loopback endpoint")
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            std::thread::spawn(move || forward(client, server, first));
        }
    });
    (format!("http://{addr}"), connections)
}

fn forward(client: TcpStream, server: TcpStream, lose_answer: bool) {
    let (Ok(mut from_client), Ok(mut to_server)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let (mut server, mut client) = (server, client);
    if lose_answer {
        // The first bytes of the answer mean the server has done the work; then the client
        // is hung up on without them.
        let mut first = [0u8; 1];
        let _ = server.read(&mut first);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if client.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}
