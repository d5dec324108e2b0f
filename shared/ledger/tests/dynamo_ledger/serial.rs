//! A loopback HTTP proxy that hands requests to a DynamoDB stand-in one at a
//! time.
//!
//! DynamoDB applies every request atomically: a conditional `UpdateItem` is
//! checked and written as one step, and a transaction is serializable. The
//! moto server (5.x) serves requests on parallel threads and does neither:
//! two conditional updates can both pass their check, and a cancelled
//! transaction restores a copy of the whole table taken when it began,
//! wiping writes that other requests made meanwhile. Racing tests against it
//! would test moto. Behind this proxy requests still interleave freely
//! between ledger calls, exactly as they do against DynamoDB, but each one is
//! applied alone.
//!
//! Each request is forwarded on a connection of its own and answered with
//! `Connection: close`, so request boundaries only have to be found in the
//! client's request (the SDK always sends a `Content-Length`).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// Starts a proxy to `upstream` (`http://host:port`) and returns its URL.
pub fn one_request_at_a_time(upstream: &str) -> io::Result<String> {
    let upstream = upstream
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("{upstream} is not an http:// endpoint")))?
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let turn = Arc::new(Mutex::new(()));
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, turn) = (upstream.clone(), Arc::clone(&turn));
            thread::spawn(move || {
                // A failed exchange shows up in the client as a failed call.
                let _ = forward(client, &upstream, &turn);
            });
        }
    });
    Ok(url)
}

fn forward(mut client: TcpStream, upstream: &str, turn: &Mutex<()>) -> io::Result<()> {
    let request = read_request(&mut client)?;
    let response = {
        let _alone = turn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut server = TcpStream::connect(upstream)?;
        server.write_all(&request)?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        response
    };
    client.write_all(&close_after(&response))?;
    client.flush()
}

/// Reads one request: its head (with `Connection: close` forced) and its body.
fn read_request(client: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let head_len = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if !read_some(client, &mut buf)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_len + length {
        if !read_some(client, &mut buf)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    let mut request = with_connection_close(&head).into_bytes();
    request.extend_from_slice(&buf[head_len..head_len + length]);
    Ok(request)
}

/// The response with `Connection: close` in its head, so the client does not
/// try to reuse a connection this proxy is about to drop.
fn close_after(response: &[u8]) -> Vec<u8> {
    let Some(head_len) = find_head_end(response) else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..head_len]);
    let mut out = with_connection_close(&head).into_bytes();
    out.extend_from_slice(&response[head_len..]);
    out
}

/// `head` (ending in an empty line) with any `Connection` header replaced by
/// `Connection: close`.
fn with_connection_close(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case("connection"));
        if !is_connection {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Appends what is available; false at end of stream.
fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0_u8; 16 * 1024];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}
